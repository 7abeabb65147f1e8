import { ActorRef } from './ActorRef.ts';
import { type ExitReason, formatReason } from './ExitReason.ts';
import { CodecConflictError, MessageDecodeError, RemoteError, UnencodableMessageError } from './errors.ts';

/**
 * How instances of one class cross nodes: what `term_to_binary` does for every Erlang term, declared
 * per type here because JavaScript objects carry behaviour a wire format cannot. `encode` returns
 * any value the registry can encode itself (JSON data, `ActorRef`s, values of other registered
 * classes); `decode` gets that value back, decoded, on the receiving node.
 *
 * @example
 * ```ts
 * system.codecs.register({
 *   tag: 'jid',
 *   type: Jid,
 *   encode: (jid) => jid.toString(),
 *   decode: (text) => parseJid(text as string),
 * });
 * ```
 */
export interface MessageCodec<T extends object = object> {
  /** Wire tag, unique within a registry (short: it is written with every value). */
  readonly tag: string;
  /** The class whose instances this codec handles (its subclasses too, unless they have their own). */
  readonly type: abstract new (
    ...args: never[]
  ) => T;
  encode(value: T): unknown;
  decode(wire: unknown): T;
}

/** A JSON-compatible tree: what a message becomes on the wire (`JSON.stringify` writes it as is). */
export type Wire = string | number | boolean | null | Wire[] | { [key: string]: Wire };

type AnyCodec = MessageCodec<object>;

/** Deeper than this is refused (and so is a cycle, which never ends). */
const MAX_DEPTH = 64;
/** The key that marks a tagged value in an encoded object. */
const TAG = '$';

/**
 * The codecs of one node: turns a message into a {@link Wire} tree at the sender and back at the
 * receiver. Built in: JSON data (strings, finite numbers, booleans, `null`, arrays, plain objects;
 * an `undefined` property is dropped as `JSON.stringify` does, an `undefined` array element or
 * message is kept), `undefined`, non-finite numbers and `-0`, `bigint`, `ActorRef` (as
 * `{node, id}`), `Date`, `Uint8Array`, and `Error` (arriving as a {@link RemoteError} with the
 * original name and message). Anything else — a function, a symbol, a `Map`, an instance of a
 * class without a codec, a cycle — is an {@link UnencodableMessageError} at the sender, naming
 * the path of the value, never a silent drop.
 */
export class CodecRegistry {
  private readonly byTag = new Map<string, AnyCodec>();
  private readonly byType = new Map<Function, AnyCodec | null>();

  /** Adds a codec. Registering the same codec again is a no-op; another one under a taken tag or type throws. */
  register<T extends object>(codec: MessageCodec<T>): void {
    const c = codec as unknown as AnyCodec;
    const sameTag = this.byTag.get(c.tag);
    const sameType = this.byType.get(c.type);
    if (sameTag === c && sameType === c) return;
    if (sameTag !== undefined) throw new CodecConflictError(c.tag, 'tag');
    // A cached lookup may name an ancestor's codec: only a codec of this very class conflicts.
    if (sameType && sameType.type === c.type) throw new CodecConflictError(c.tag, 'type');
    this.byTag.set(c.tag, c);
    // Forget what inheritance lookups decided before: the new codec may be a closer match.
    for (const [type, found] of this.byType)
      if (found === null || type !== found.type) this.byType.delete(type);
    this.byType.set(c.type, c);
  }

  /** Whether a codec is registered under `tag`. */
  has(tag: string): boolean {
    return this.byTag.has(tag);
  }

  /** The wire form of `value`; throws {@link UnencodableMessageError} when part of it has none. */
  encode(value: unknown): Wire {
    return this.enc(value, [], 0);
  }

  /**
   * The wire form of an exit reason, which the runtime sends on its own behalf (`DOWN`, `EXIT`, a
   * failed call) and so must never fail: a reason that cannot be encoded crosses as its text
   * (`{ exit: '…' }`, or `{ error: RemoteError }` for `{ error }`).
   */
  encodeReason(reason: ExitReason): Wire {
    try {
      return this.encode(reason);
    } catch {
      const text = formatReason(reason);
      return typeof reason === 'object' && 'error' in reason
        ? this.encode({ error: new RemoteError('Error', text) })
        : { exit: text };
    }
  }

  /**
   * Reads back what {@link encode} wrote (after `JSON.parse`); throws {@link MessageDecodeError}.
   * Decodes in place: plain arrays and objects of `wire` become those of the result, so pass a tree
   * this call may own (a fresh `JSON.parse`).
   */
  decode(wire: unknown): unknown {
    return this.dec(wire, [], 0);
  }

  /** `path` holds the keys down to `value`, formatted only when an error needs it. */
  private enc(value: unknown, path: Segment[], depth: number): Wire {
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return value;
      case 'number':
        return Number.isFinite(value) && !Object.is(value, -0)
          ? value
          : { [TAG]: 'n', v: Object.is(value, -0) ? '-0' : String(value) };
      case 'undefined':
        return { [TAG]: 'u' };
      case 'bigint':
        return { [TAG]: 'b', v: value.toString() };
      case 'object':
        break;
      default:
        throw new UnencodableMessageError(formatPath(path), typeof value);
    }
    if (value === null) return null;
    if (depth >= MAX_DEPTH) {
      throw new UnencodableMessageError(formatPath(path), 'nesting deeper than 64 (or a cycle)');
    }
    const proto = Object.getPrototypeOf(value) as object | null;
    if (proto === Object.prototype || proto === null) {
      const src = value as Record<string, unknown>;
      const out: { [key: string]: Wire } = {};
      for (const key in src) {
        const v = src[key];
        if (v === undefined) continue;
        path.push(key);
        setKey(out, key, this.enc(v, path, depth + 1));
        path.pop();
      }
      return TAG in out ? { [TAG]: 'o', v: out } : out;
    }
    if (Array.isArray(value)) {
      const out: Wire[] = new Array(value.length);
      for (let i = 0; i < value.length; i++) {
        path.push(i);
        out[i] = this.enc(value[i], path, depth + 1);
        path.pop();
      }
      return out;
    }
    if (value instanceof ActorRef) return { [TAG]: 'r', n: value.node, i: value.id };
    const codec = this.codecFor(value.constructor as Function | undefined);
    if (codec !== undefined) {
      let inner: unknown;
      try {
        inner = codec.encode(value);
      } catch (cause) {
        throw new UnencodableMessageError(
          formatPath(path),
          `${className(value)} (codec ${codec.tag} threw)`,
          {
            cause,
          },
        );
      }
      return { [TAG]: 'c', t: codec.tag, v: this.enc(inner, path, depth + 1) };
    }
    if (value instanceof Date) return { [TAG]: 'd', v: value.getTime() };
    if (value instanceof Uint8Array) return { [TAG]: 'x', v: Buffer.from(value).toString('base64') };
    if (value instanceof Error) return { [TAG]: 'e', name: value.name, message: value.message };
    throw new UnencodableMessageError(formatPath(path), className(value));
  }

  /** The codec of a class or of its nearest registered ancestor; remembered per class. */
  private codecFor(type: Function | undefined): AnyCodec | undefined {
    if (type === undefined) return undefined;
    const known = this.byType.get(type);
    if (known !== undefined) return known ?? undefined;
    let found: AnyCodec | null = null;
    for (
      let p = Object.getPrototypeOf(type.prototype) as object | null;
      p !== null;
      p = Object.getPrototypeOf(p)
    ) {
      const c = this.byType.get(p.constructor);
      if (c) {
        found = c;
        break;
      }
    }
    this.byType.set(type, found);
    return found ?? undefined;
  }

  private dec(wire: unknown, path: Segment[], depth: number): unknown {
    if (wire === null || typeof wire !== 'object') return wire;
    if (depth >= MAX_DEPTH + 2) throw new MessageDecodeError(formatPath(path), 'nesting too deep');
    if (Array.isArray(wire)) {
      for (let i = 0; i < wire.length; i++) {
        const item = wire[i];
        if (item === null || typeof item !== 'object') continue;
        path.push(i);
        wire[i] = this.dec(item, path, depth + 1);
        path.pop();
      }
      return wire;
    }
    const w = wire as Record<string, unknown>;
    const tag = w[TAG];
    if (tag === undefined) return this.decObject(w, path, depth);
    switch (tag) {
      case 'o':
        return this.decObject(w.v as Record<string, unknown>, path, depth);
      case 'u':
        return undefined;
      case 'n':
        return Number(w.v);
      case 'b':
        return BigInt(String(w.v));
      case 'r':
        if (typeof w.n !== 'string' || typeof w.i !== 'number') {
          throw new MessageDecodeError(formatPath(path), 'bad ref');
        }
        return new ActorRef(w.n, w.i);
      case 'd':
        return new Date(Number(w.v));
      case 'x':
        return new Uint8Array(Buffer.from(String(w.v), 'base64'));
      case 'e':
        return new RemoteError(String(w.name), String(w.message));
      case 'c': {
        const codec = this.byTag.get(String(w.t));
        if (codec === undefined)
          throw new MessageDecodeError(formatPath(path), `no codec for tag ${String(w.t)}`);
        try {
          return codec.decode(this.dec(w.v, path, depth + 1));
        } catch (cause) {
          throw new MessageDecodeError(formatPath(path), `codec ${codec.tag} failed`, { cause });
        }
      }
      default:
        throw new MessageDecodeError(formatPath(path), `unknown tag ${String(tag)}`);
    }
  }

  /** A plain object of the wire, decoded in place (its values replaced by theirs). */
  private decObject(w: Record<string, unknown>, path: Segment[], depth: number): Record<string, unknown> {
    if (w === null || typeof w !== 'object') throw new MessageDecodeError(formatPath(path), 'bad object');
    for (const key in w) {
      const v = w[key];
      if (v === null || typeof v !== 'object') continue;
      path.push(key);
      // `JSON.parse` makes `__proto__` an own key: set it as one (assigning it sets the prototype).
      setKey(w, key, this.dec(v, path, depth + 1));
      path.pop();
    }
    return w;
  }
}

/** One step of a path into a message: an object key or an array index. */
type Segment = string | number;

/** `$.stanza.children[0]`. */
function formatPath(path: readonly Segment[]): string {
  let out = '$';
  for (const s of path) out += typeof s === 'number' ? `[${s}]` : `.${s}`;
  return out;
}

/** `obj[key] = value`, except that a `__proto__` key (an own key after `JSON.parse`) stays a key. */
function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else obj[key] = value;
}

function className(value: object): string {
  const name = (value.constructor as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' && name !== '' ? `an instance of ${name}` : 'an object';
}
