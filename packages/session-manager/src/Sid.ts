import { ActorRef } from '@otp-chat/actor';

/** The JSON form of a {@link Sid}, for backends that store rows outside the process (Redis, SQL). */
export interface SidJSON {
  readonly time: number;
  readonly counter: number;
  readonly node: string;
  readonly ref: { readonly node: string; readonly id: number };
}

/**
 * A session id, ejabberd's `{unique_timestamp(), Pid}` (`ejabberd_sm:make_sid/0`): ordered by wall-clock seconds,
 * then a per-node monotonic counter, then the node that made it, then the connection's ref. The
 * "newest" session is the one with the greatest sid ({@link compareSid}).
 *
 * Immutable. `ref` is the connection actor: delivering to a session is `system.send(sid.ref, msg)`.
 */
export class Sid {
  constructor(
    /** Wall-clock seconds at creation (ejabberd's `{MegaSecs, Secs}`). */
    readonly time: number,
    /**
     * Per-node monotonic counter. ejabberd takes it modulo 10^6 and so may wrap within a second;
     * here it never wraps (safe up to 2^53).
     */
    readonly counter: number,
    /** Node that created the sid. */
    readonly node: string,
    /** The connection actor that owns the session. */
    readonly ref: ActorRef,
  ) {}

  /** True when both are the same sid (every field equal). */
  equals(other: Sid): boolean {
    return (
      this === other ||
      (this.counter === other.counter &&
        this.time === other.time &&
        this.node === other.node &&
        this.ref.equals(other.ref))
    );
  }

  /** A stable string key, `time.counter.node.refNode.refId`, unique per sid (for hash fields). */
  key(): string {
    return `${this.time}.${this.counter}.${this.node}.${this.ref.node}.${this.ref.id}`;
  }

  toString(): string {
    return `{${this.time},${this.counter},${this.node},${this.ref.toString()}}`;
  }

  toJSON(): SidJSON {
    return { time: this.time, counter: this.counter, node: this.node, ref: this.ref.toJSON() };
  }

  /** Reads back what `toJSON` wrote. */
  static fromJSON(json: SidJSON): Sid {
    return new Sid(json.time, json.counter, json.node, ActorRef.fromJSON(json.ref));
  }
}

function cmpString(a: string, b: string): number {
  return a === b ? 0 : a < b ? -1 : 1;
}

/**
 * Total order of sids, as Erlang compares `{Timestamp, Pid}`: time, counter, node, then the ref
 * (its node, then its id). Negative when `a` is older.
 */
export function compareSid(a: Sid, b: Sid): number {
  if (a === b) return 0;
  if (a.time !== b.time) return a.time - b.time;
  if (a.counter !== b.counter) return a.counter - b.counter;
  const n = cmpString(a.node, b.node);
  if (n !== 0) return n;
  const r = cmpString(a.ref.node, b.ref.node);
  if (r !== 0) return r;
  return a.ref.id - b.ref.id;
}

/**
 * Makes sids for one node (`ejabberd_sm:make_sid/0`): wall-clock seconds from `now` and a counter
 * that increases on every call, so sids made by one factory are strictly increasing.
 */
export class SidFactory {
  private counter = 0;

  constructor(
    /** The node name written into every sid. */
    readonly node: string,
    /** Wall-clock milliseconds. @default Date.now */
    private readonly now: () => number = Date.now,
  ) {}

  /** A new sid owned by the connection `ref`. */
  make(ref: ActorRef): Sid {
    return new Sid(Math.floor(this.now() / 1000), ++this.counter, this.node, ref);
  }
}
