// The codec registry: what crosses nodes, how, and what is refused at the sender.
import { describe, expect, it } from 'vitest';
import {
  ActorRef,
  CodecConflictError,
  CodecRegistry,
  type ExitReason,
  MessageDecodeError,
  RemoteError,
  UnencodableMessageError,
} from '../src/index.ts';

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}
class Point3 extends Point {}

const pointCodec = {
  tag: 'pt',
  type: Point,
  encode: (p: Point) => [p.x, p.y],
  decode: (w: unknown) => new Point((w as number[])[0]!, (w as number[])[1]!),
};

/** Encoded, through JSON text, and decoded: what the receiving node sees. */
function roundTrip(codecs: CodecRegistry, value: unknown): unknown {
  return codecs.decode(JSON.parse(JSON.stringify(codecs.encode(value))));
}

describe('CodecRegistry: values that cross', () => {
  const codecs = new CodecRegistry();
  codecs.register(pointCodec);
  const ref = new ActorRef('b@host', 42);
  const rows: Array<[string, unknown, unknown?]> = [
    ['a string', 'héllo'],
    ['numbers', [0, 1.5, -7, Number.MAX_SAFE_INTEGER]],
    ['non-finite numbers and -0', [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, -0]],
    ['booleans and null', [true, false, null]],
    ['undefined as a message and in arrays', [undefined, [1, undefined]]],
    ['an undefined property is dropped (JSON)', { a: 1, b: undefined }, { a: 1 }],
    ['bigint', 12345678901234567890n],
    ['nested plain objects', { type: 'route', smCopy: false, deep: { list: [{ a: 'x' }] } }],
    ['an object with a "$" key is escaped', { $: 'r', n: 'x', i: 1 }],
    ['a null-prototype object', Object.assign(Object.create(null), { k: 1 }), { k: 1 }],
    ['an ActorRef', { to: ref }],
    ['a Date', new Date(1_700_000_000_000)],
    ['bytes', new Uint8Array([0, 1, 255])],
    ['a registered class', { at: new Point(1, 2) }],
    ['a subclass of a registered class uses its codec', new Point3(3, 4), new Point(3, 4)],
    ['a "__proto__" key stays a key', JSON.parse('{"__proto__":{"polluted":true}}')],
  ];
  it.each(rows)('%s', (_name, value, expected = value) => {
    const back = roundTrip(codecs, value);
    expect(back).toEqual(expected);
    if (typeof expected === 'number' && Object.is(expected, -0)) expect(Object.is(back, -0)).toBe(true);
  });

  it('refs come back as ActorRefs equal to the original', () => {
    const back = roundTrip(codecs, { to: ref }) as { to: ActorRef };
    expect(back.to).toBeInstanceOf(ActorRef);
    expect(back.to.equals(ref)).toBe(true);
  });

  it('-0 survives', () => {
    expect(Object.is(roundTrip(codecs, -0), -0)).toBe(true);
  });

  it('an Error arrives as a RemoteError with its name and message', () => {
    const back = roundTrip(codecs, new TypeError('bad')) as RemoteError;
    expect(back).toBeInstanceOf(RemoteError);
    expect([back.name, back.originalName, back.message]).toEqual(['RemoteError', 'TypeError', 'bad']);
  });

  it('a "__proto__" key does not set the prototype', () => {
    const back = roundTrip(codecs, JSON.parse('{"__proto__":{"polluted":true}}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('CodecRegistry: values refused at the sender', () => {
  const codecs = new CodecRegistry();
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const rows: Array<[string, unknown, string, RegExp]> = [
    ['a function', { f: () => 1 }, '$.f', /function/],
    ['a symbol', [Symbol('s')], '$[0]', /symbol/],
    ['a Map', { m: new Map() }, '$.m', /Map/],
    ['a Set', new Set([1]), '$', /Set/],
    ['a class without a codec', { p: new Point(1, 2) }, '$.p', /Point/],
    ['a promise', { later: Promise.resolve(1) }, '$.later', /Promise/],
    ['a cycle', cyclic, expect.stringMatching(/^\$(\.self)+$/) as unknown as string, /deeper|cycle/],
  ];
  it.each(rows)('%s: UnencodableMessageError naming the path', (_name, value, path, kind) => {
    let error: unknown;
    try {
      codecs.encode(value);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnencodableMessageError);
    const u = error as UnencodableMessageError;
    expect(u.name).toBe('UnencodableMessageError');
    expect(u.path).toEqual(path);
    expect(u.kind).toMatch(kind);
  });

  it('a codec that throws is an UnencodableMessageError with the cause', () => {
    const r = new CodecRegistry();
    const boom = new Error('boom');
    r.register({
      tag: 'pt',
      type: Point,
      encode: () => {
        throw boom;
      },
      decode: () => new Point(0, 0),
    });
    expect(() => r.encode(new Point(1, 1))).toThrow(UnencodableMessageError);
    try {
      r.encode(new Point(1, 1));
    } catch (e) {
      expect((e as Error).cause).toBe(boom);
    }
  });

  it('exit reasons never fail: an unencodable one crosses as its text', () => {
    const reasons: Array<[ExitReason, unknown]> = [
      ['normal', 'normal'],
      [{ shutdown: { why: 'x' } }, { shutdown: { why: 'x' } }],
      [{ exit: new Map() }, { exit: '{exit: {}}' }],
    ];
    for (const [reason, expected] of reasons) {
      expect(codecs.decode(JSON.parse(JSON.stringify(codecs.encodeReason(reason))))).toEqual(expected);
    }
    const back = codecs.decode(codecs.encodeReason({ error: { f: () => 1 } })) as { error: RemoteError };
    expect(back.error).toBeInstanceOf(RemoteError);
  });
});

describe('CodecRegistry: registration and decoding errors', () => {
  it('the same codec twice is a no-op; another one under a taken tag or class throws', () => {
    const r = new CodecRegistry();
    r.register(pointCodec);
    r.register(pointCodec);
    expect(r.has('pt')).toBe(true);
    expect(() => r.register({ ...pointCodec })).toThrow(CodecConflictError);
    expect(() => r.register({ ...pointCodec, tag: 'pt2' })).toThrow(CodecConflictError);
    // A subclass may have its own codec, even after its parent's was used for it.
    expect(roundTrip(r, new Point3(1, 1))).toEqual(new Point(1, 1));
    r.register({
      ...pointCodec,
      tag: 'pt3',
      type: Point3,
      decode: (w) => new Point3(...(w as [number, number])),
    });
    expect(roundTrip(r, new Point3(1, 1))).toBeInstanceOf(Point3);
  });

  it.each([
    ['an unknown codec tag', { $: 'c', t: 'nope', v: 1 }],
    ['an unknown built-in tag', { $: 'zz' }],
    ['a malformed ref', { $: 'r', n: 1 }],
  ])('%s is a MessageDecodeError', (_name, wire) => {
    expect(() => new CodecRegistry().decode(wire)).toThrow(MessageDecodeError);
  });
});
