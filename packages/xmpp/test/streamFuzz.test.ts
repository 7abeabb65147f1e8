// Fuzzing the stream parser (fast-check): random bytes, random nesting, random splits of valid
// streams. No exception escapes, an error is reported at most once and ends the stream, valid
// streams parse the same however they are cut; on a real server, a fuzzed connection alone closes.
import xml, { type Element } from '@xmpp/xml';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../src/DEFAULTS.ts';
import type { StreamError } from '../src/errors.ts';
import { serialize } from '../src/internal/serialize.ts';
import { StreamParser, type StreamParserOptions } from '../src/StreamParser.ts';
import { connectClient, RawClient, streamOpen, type TestClient } from '../src/testing/index.ts';
import type { XmppServer } from '../src/XmppServer.ts';
import { PASSWORD, startServer } from './support/server.ts';

const HEADER = streamOpen();

function record(options: StreamParserOptions = {}) {
  const r = { starts: 0, elements: [] as Element[], ended: 0, errors: [] as StreamError[] };
  const parser = new StreamParser(
    {
      onStreamStart: () => void r.starts++,
      onElement: (e) => void r.elements.push(e),
      onStreamEnd: () => void r.ended++,
      onError: (e) => void r.errors.push(e),
    },
    options,
  );
  return { r, parser };
}

/** Random elements: names, attributes (values with every character XML escapes), text, nesting. */
const name = fc.stringMatching(/^[a-z][a-z0-9._-]{0,8}$/);
const text = fc.string({
  unit: fc.constantFrom('a', 'z', ' ', '&', '<', '>', '"', "'", 'é', '😀', '\n'),
  maxLength: 12,
});
const tree: fc.Arbitrary<Element> = fc.letrec<{ node: Element }>((tie) => ({
  node: fc
    .tuple(
      name,
      fc.dictionary(name, text, { maxKeys: 3 }),
      fc.array(fc.oneof({ depthSize: 'small' }, text, tie('node')), { maxLength: 4 }),
    )
    .map(([n, attrs, children]) => {
      const el = xml(n, attrs);
      for (const c of children) {
        if (typeof c === 'string') {
          if (c !== '') el.t(c);
        } else el.cnode(c);
      }
      return el;
    }),
})).node;

function depth(el: Element): number {
  let max = 0;
  for (const c of el.children) if (typeof c !== 'string') max = Math.max(max, depth(c));
  return max + 1;
}

/** A chain of `n` nested elements. */
function chain(n: number): Element {
  let el = xml('a', {}, 'core');
  for (let i = 1; i < n; i++) el = xml('a', {}, el);
  return el;
}

/** Feeds `bytes` cut at `cuts`. */
function feed(parser: StreamParser, bytes: Buffer, cuts: readonly number[]): void {
  const points = [0, ...[...cuts].sort((a, b) => a - b), bytes.length];
  for (let i = 0; i + 1 < points.length; i++) parser.write(bytes.subarray(points[i]!, points[i + 1]!));
}

describe('stream parser fuzz (fast-check)', () => {
  it('random bytes, alone or after a header: no exception, at most one error, nothing after it', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 12 }),
        (withHeader, chunks) => {
          const { r, parser } = record({ sliceBytes: 16 });
          if (withHeader) parser.write(HEADER);
          for (const c of chunks) parser.write(c);
          expect(r.errors.length).toBeLessThanOrEqual(1);
          if (r.errors.length === 1 || r.ended === 1) {
            expect(parser.closed).toBe(true);
            const seen = r.elements.length + r.errors.length;
            parser.write('<presence/>');
            expect(r.elements.length + r.errors.length).toBe(seen);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('random markup-ish text (tags, quotes, entities, declarations) after a header: no exception, at most one error', () => {
    const token = fc.constantFrom(
      '<',
      '>',
      '/',
      '=',
      '"',
      "'",
      ' ',
      'a',
      'message',
      ':',
      '&amp;',
      '&#x10FFFF;',
      '&bogus;',
      '<!',
      '[CDATA[',
      ']]>',
      '<?xml ',
      '?>',
      '\x00',
      '</a>',
      '<a>',
      '<a/>',
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 60 }), fc.integer({ min: 1, max: 32 }), (tokens, slice) => {
        const { r, parser } = record({ sliceBytes: slice });
        parser.write(HEADER);
        for (const t of tokens) parser.write(t);
        expect(r.errors.length).toBeLessThanOrEqual(1);
        for (const e of r.errors) {
          expect(['not-well-formed', 'restricted-xml', 'policy-violation']).toContain(e.condition);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('random trees: a stanza within the limits comes back equal; a deeper one is refused with policy-violation', () => {
    fc.assert(
      fc.property(tree, fc.integer({ min: 2, max: 8 }), (el, maxDepth) => {
        const { r, parser } = record({ maxElementDepth: maxDepth });
        parser.write(HEADER + serialize(el));
        if (depth(el) <= maxDepth) {
          expect(r.errors).toEqual([]);
          expect(r.elements.map(serialize)).toEqual([serialize(el)]);
        } else {
          expect(r.errors.map((e) => [e.condition, e.text])).toEqual([
            ['policy-violation', 'XML stanza is too deep'],
          ]);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('random splits of a valid stream of random stanzas give the same stanzas', () => {
    fc.assert(
      fc.property(
        fc.array(tree, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.integer({ min: 1, max: 64 }),
        (stanzas, rawCuts, slice) => {
          const doc = Buffer.from(`${HEADER}${stanzas.map(serialize).join(' \n')}</stream:stream>`);
          const cuts = [...new Set(rawCuts.map((c) => 1 + (c % (doc.length - 1))))];
          const { r, parser } = record({ sliceBytes: slice });
          feed(parser, doc, cuts);
          expect(r.errors).toEqual([]);
          expect(r.elements.map(serialize)).toEqual(stanzas.map(serialize));
          expect(r.ended).toBe(1);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('serialisation is iterative', () => {
  it('byte for byte what ltx writes, on random trees', () => {
    fc.assert(
      fc.property(tree, (el) => {
        expect(serialize(el)).toBe(el.toString());
      }),
      { numRuns: 500 },
    );
  });

  it('a 100 000-deep element (which ltx’s recursive toString cannot write) is written without a stack overflow', () => {
    const deep = chain(100_000);
    expect(() => deep.toString()).toThrow(RangeError);
    const out = serialize(deep);
    expect(out.startsWith('<a><a>')).toBe(true);
    expect(out.length).toBe(100_000 * '<a></a>'.length + 'core'.length);
  });
});

describe('a fuzzed connection alone closes (real server)', () => {
  let server: XmppServer;
  let port = 0;
  let bob: TestClient;
  beforeAll(async () => {
    const s = await startServer({ negotiationTimeoutMs: 2000 });
    server = s.server;
    port = s.port;
    bob = await connectClient({ port, username: 'bob', password: PASSWORD, resource: 'watch' });
  });
  afterAll(async () => {
    await bob.stop();
    await server.stop();
  });

  it('random bytes on 60 connections, before and after login: each ends or idles alone; the other client and the server keep working', async () => {
    const samples = fc.sample(
      fc.tuple(
        fc.boolean(),
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 4 }),
      ),
      { numRuns: 60, seed: 11 },
    );
    let closedByServer = 0;
    for (const [loggedIn, chunks] of samples) {
      const r = loggedIn
        ? await RawClient.login(port, 'alice', PASSWORD, 'fuzz')
        : await RawClient.connect(port);
      if (!loggedIn) r.write(HEADER);
      for (const c of chunks) r.write(c);
      // A stream error (or the negotiation timeout) closes it; one that merely idles is closed by us.
      await Promise.race([r.closed, r.waitFor((t) => t.includes('</stream:stream>'), 3000).catch(() => {})]);
      if (!r.isOpen || r.text.includes('</stream:stream>')) closedByServer++;
      r.destroy();
      await r.closed;
    }
    expect(closedByServer).toBeGreaterThan(30);
    const pong = await bob.xmpp.iqCaller.request(
      xml('iq', { type: 'get', to: 'localhost' }, xml('ping', 'urn:xmpp:ping')),
    );
    expect(pong.attrs.type).toBe('result');
    expect(bob.streamErrors).toEqual([]);
    expect(await server.sm.userResources('bob', 'localhost')).toEqual(['watch']);
    expect(DEFAULTS.maxElementDepth).toBeGreaterThan(0);
  });
});
