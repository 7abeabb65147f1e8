import type { Clock } from '@otp-chat/actor';
import type { Session } from '@otp-chat/session-manager';
import { LRUCacheWithDelete } from 'mnemonist';

interface Entry {
  readonly rows: readonly Session[];
  readonly at: number;
}

/** Reads and writes in flight for one key; `version` moves on every invalidation of the key. */
interface InFlight {
  version: number;
  refs: number;
}

/** A handle on one operation whose answer may fill the cache (see {@link SessionCache.begin}). */
export interface CacheTicket {
  readonly key: string;
  readonly version: number;
  readonly epoch: number;
}

/**
 * The per-user session cache (`ejabberd_sm`'s `sm_cache`), better than ejabberd's `sm_cache`:
 * - an LRU (mnemonist) instead of a table cleared when full;
 * - an answer is stored only if no invalidation of its key (local write, pub/sub message, flush)
 *   happened while it was in flight: a read that raced a write is not cached (ets_cache's counter);
 * - only answers are cached, never errors (ejabberd caches a backend error as "no sessions");
 * - disabled (and flushed) while the pub/sub connection is down, since invalidations could be missed;
 * - concurrent misses for one key share one read (no thundering herd on a hot user).
 */
export class SessionCache {
  private readonly lru: LRUCacheWithDelete<string, Entry>;
  private readonly inFlight = new Map<string, InFlight>();
  private readonly reads = new Map<string, Promise<readonly Session[]>>();
  private epoch = 0;
  /** False while invalidations may be missed (pub/sub down): nothing is stored or served. */
  private enabled = false;

  constructor(
    capacity: number,
    private readonly lifetimeMs: number,
    private readonly clock: Clock,
  ) {
    this.lru = new LRUCacheWithDelete(Math.max(1, capacity));
  }

  get size(): number {
    return this.lru.size;
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  /** The cached rows of `key`, or `undefined`. */
  get(key: string): readonly Session[] | undefined {
    const e = this.lru.get(key);
    if (e === undefined) return undefined;
    if (this.lifetimeMs !== Number.POSITIVE_INFINITY && this.clock.now() - e.at > this.lifetimeMs) {
      this.lru.delete(key);
      return undefined;
    }
    return e.rows;
  }

  /** Starts an operation whose answer may be cached by {@link end}. */
  begin(key: string): CacheTicket {
    let f = this.inFlight.get(key);
    if (f === undefined) {
      f = { version: 0, refs: 0 };
      this.inFlight.set(key, f);
    }
    f.refs++;
    return { key, version: f.version, epoch: this.epoch };
  }

  /** Ends an operation; stores `rows` (when given) if nothing invalidated the key meanwhile. */
  end(ticket: CacheTicket, rows?: readonly Session[]): void {
    const f = this.inFlight.get(ticket.key);
    const fresh = f !== undefined && f.version === ticket.version && ticket.epoch === this.epoch;
    if (f !== undefined && --f.refs === 0) this.inFlight.delete(ticket.key);
    if (rows !== undefined && fresh && this.enabled) {
      const at = this.lifetimeMs === Number.POSITIVE_INFINITY ? 0 : this.clock.now();
      this.lru.set(ticket.key, { rows, at });
    }
  }

  /**
   * A shared read: concurrent misses for `key` join one `load`, unless an invalidation came between.
   * The answer is cached when fresh; a failure is never cached.
   */
  read(key: string, load: () => Promise<readonly Session[]>): Promise<readonly Session[]> {
    const joined = this.reads.get(key);
    if (joined !== undefined) return joined;
    const ticket = this.begin(key);
    const p = load().then(
      (rows) => {
        if (this.reads.get(key) === p) this.reads.delete(key);
        this.end(ticket, rows);
        return rows;
      },
      (error: unknown) => {
        if (this.reads.get(key) === p) this.reads.delete(key);
        this.end(ticket);
        throw error;
      },
    );
    this.reads.set(key, p);
    return p;
  }

  /** Drops `key` and makes every operation in flight on it uncacheable. */
  invalidate(key: string): void {
    this.lru.delete(key);
    this.reads.delete(key);
    const f = this.inFlight.get(key);
    if (f !== undefined) f.version++;
  }

  /** Drops everything and makes every operation in flight uncacheable. */
  flush(): void {
    this.lru.clear();
    this.reads.clear();
    this.epoch++;
  }

  /** Turns the cache on (after a flush) or off (flushing it). */
  setEnabled(enabled: boolean): void {
    this.flush();
    this.enabled = enabled;
  }
}
