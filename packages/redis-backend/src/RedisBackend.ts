import { randomUUID } from 'node:crypto';
import { type Clock, type Logger, moduleLogger, silentLogger, systemClock } from '@otp-chat/actor';
import { type Backend, type BackendInitContext, type Session, SessionCache } from '@otp-chat/session-manager';
import { Redis, type RedisOptions } from 'ioredis';
import { DEFAULTS } from './DEFAULTS.ts';
import {
  BackendTimeoutError,
  BackendUnavailableError,
  RedisCommandError,
  UnsupportedRedisVersionError,
} from './errors.ts';
import { CLEAN_NODE_SCRIPT } from './internal/cleanNodeScript.ts';
import { RedisKeys } from './RedisKeys.ts';
import { compareRedisVersions, MIN_REDIS_VERSION, redisVersionOf } from './redisVersion.ts';
import { decodeSession, encodeSession } from './sessionCodec.ts';

/** Options of {@link RedisBackend}; every field defaults to {@link DEFAULTS}. */
export interface RedisBackendOptions {
  /** Redis URL (`redis://host:port/db`). */
  readonly url?: string;
  /** Key prefix and pub/sub channel. */
  readonly prefix?: string;
  /** The backend's name in logs and errors. @default 'redis' */
  readonly name?: string;
  /** Whether per-user reads are cached (`sm_use_cache`). @default true */
  readonly cache?: boolean;
  readonly cacheSize?: number;
  readonly cacheLifetimeMs?: number;
  readonly cleanBatchSize?: number;
  readonly reconnectInitialMs?: number;
  readonly reconnectMaxMs?: number;
  readonly connectTimeoutMs?: number;
  readonly commandTimeoutMs?: number;
  /**
   * Extra ioredis options for both connections. The fault-handling ones (`enableOfflineQueue`,
   * `maxRetriesPerRequest`, `autoResubscribe`, `autoResendUnfulfilledCommands`, `lazyConnect`,
   * `retryStrategy`) are always overridden.
   */
  readonly redisOptions?: RedisOptions;
}

/** A write that could not reach Redis, replayed when Redis is back (the last intent per row wins). */
interface PendingWrite {
  readonly op: 'set' | 'delete';
  readonly session: Session;
}

/** Where the backend's connection stands. */
export type RedisBackendStatus = 'stopped' | 'ready' | 'unavailable';

const EMPTY: readonly Session[] = Object.freeze([]) as readonly Session[];

/**
 * The Redis session store, ejabberd's `ejabberd_sm_redis` without its weak spots
 * (no clean-up of a dead node, backend errors cached as "no sessions", processone/ejabberd#1905 and #1271):
 *
 * - ejabberd's layout under a prefix ({@link RedisKeys}); each `setSession` / `deleteSession` is one
 *   `MULTI` of the three hash writes, the `PUBLISH` that invalidates other nodes' caches, and an
 *   `HGETALL` of the user's hash that refreshes this node's cache with the state just written;
 * - values in a compact versioned JSON encoding; a value that cannot be decoded is skipped and
 *   logged;
 * - `init` cleans this node's previous rows (once per incarnation) in bounded Lua batches over the
 *   node index (ejabberd #1905) and subscribes to the invalidation channel on a second connection;
 *   `cleanNode(node)` cleans any node the same way, and returns its rows;
 * - a per-user LRU cache, served synchronously on a hit so that routing stays synchronous, that
 *   never caches an error nor a read that raced a write, and is flushed whenever invalidations could
 *   have been missed (pub/sub connection lost, reconnect);
 * - commands fail fast with {@link BackendUnavailableError} while Redis is unreachable, and writes
 *   that failed so are replayed once it is back, so that no closed session outlives the outage
 *   (ejabberd #1271). The last intent per row wins: a `deleteSession` supersedes a failed
 *   `setSession` of the same row.
 *
 * The backend caches by itself (its cache is the one pub/sub invalidates), so `useCache` answers
 * false: the session manager must not add a cache on top.
 *
 * `init` may be called again after `stop` (it reconnects) or on a running backend (an actor
 * restarted by its supervisor: it keeps its connections and pending writes, flushes the cache and
 * resubscribes).
 */
export class RedisBackend implements Backend {
  readonly name: string;
  /** The key layout. */
  readonly keys: RedisKeys;
  private readonly url: string;
  private readonly options: RedisBackendOptions;
  private readonly cacheOn: boolean;
  /** This instance, so that it ignores its own invalidation messages. */
  private readonly instanceId = randomUUID();
  private main: Redis | undefined;
  private sub: Redis | undefined;
  private cache: SessionCache;
  private readonly pending = new Map<string, PendingWrite>();
  /** The sequence number of the latest write issued per row, while writes of that row are in flight. */
  private readonly latest = new Map<string, number>();
  private seq = 0;
  private readonly hosts = new Set<string>();
  private logger: Logger = silentLogger;
  private node = '';
  /** This run's marker value, set by the first successful `init` ('' before). */
  private incarnationMark = '';
  private storeLost: (() => void) | undefined;
  private replaying = false;
  private replayAgain = false;
  private mainDown = false;
  private syncWaiters: (() => void)[] = [];
  private readonly keyMemo = new Map<string, Map<string, string>>();
  private keyMemoSize = 0;
  private readonly keyMemoMax: number;

  constructor(options: RedisBackendOptions = {}) {
    this.options = options;
    this.name = options.name ?? 'redis';
    this.url = options.url ?? DEFAULTS.url;
    this.keys = new RedisKeys(options.prefix ?? DEFAULTS.prefix);
    this.cacheOn = options.cache ?? true;
    this.cache = this.makeCache(systemClock);
    this.keyMemoMax = 2 * (options.cacheSize ?? DEFAULTS.cacheSize);
  }

  /** `ready` when commands can be sent, `unavailable` while Redis cannot be reached. */
  get status(): RedisBackendStatus {
    if (this.main === undefined) return 'stopped';
    return this.main.status === 'ready' ? 'ready' : 'unavailable';
  }

  /** Writes waiting for Redis to come back. */
  get pendingWrites(): number {
    return this.pending.size;
  }

  /** Entries in the per-user cache. */
  get cacheSize(): number {
    return this.cache.size;
  }

  /** Whether the cache is serving (false while the pub/sub connection is down). */
  get cacheEnabled(): boolean {
    return this.cache.isEnabled;
  }

  /**
   * Connects both connections and subscribes to the invalidation channel. Rejects with
   * {@link BackendUnavailableError} when Redis cannot be reached, and with
   * {@link UnsupportedRedisVersionError} when it is older than `MIN_REDIS_VERSION` (3.2.0). It deletes nothing: the session
   * manager removes this node's leftover rows at its start with `cleanNode(node)`, hooks included
   * (ejabberd's `clean_table` at init ran none).
   *
   * On a running backend (its actor crashed and the backend supervisor restarted it) `init` keeps
   * both connections, so writes in flight and writes waiting for replay are not lost: it flushes
   * the cache, subscribes again and replays.
   */
  async init(context: BackendInitContext): Promise<void> {
    this.logger = moduleLogger(context.logger, 'redis_backend');
    this.node = context.node;
    this.storeLost = context.storeLost;
    for (const h of context.hosts) this.hosts.add(h);
    const main = this.main;
    if (main !== undefined && main.status !== 'end') await this.resume(main);
    else await this.connect(context);
    this.incarnationMark = context.incarnation ?? this.instanceId;
    await this.markAlive();
  }

  /** Writes this node's store-loss marker (see {@link RedisKeys.marker}). */
  private async markAlive(): Promise<void> {
    const main = this.main;
    if (main === undefined || main.status !== 'ready') return;
    try {
      await main.set(this.keys.marker(this.node), this.incarnationMark);
    } catch (error) {
      this.logger.warn({ backend: this.name, err: error }, 'cannot write the node marker');
    }
  }

  /**
   * After a reconnection: when this node's marker is gone, Redis lost this node's rows (it was
   * restarted without persistence, or flushed). The marker is written again and the session
   * manager is told (`storeLost`): it has its live connections write their rows again.
   */
  private async checkStoreLost(main: Redis): Promise<void> {
    let present: number;
    try {
      present = await main.exists(this.keys.marker(this.node));
    } catch (error) {
      this.logger.warn({ backend: this.name, err: error }, 'cannot read the node marker');
      return;
    }
    if (present > 0 || this.main !== main) return;
    this.logger.warn(
      { backend: this.name, node: this.node },
      'redis came back without this node’s sessions (restarted empty or flushed)',
    );
    await this.markAlive();
    this.storeLost?.();
  }

  /** `init` on a running backend: same connections, fresh cache, subscription renewed, replay. */
  private async resume(main: Redis): Promise<void> {
    this.cache.flush();
    const sub = this.sub;
    // A failure is logged by `subscribe`; the sub connection's `ready` handler subscribes again.
    if (sub?.status === 'ready') await this.subscribe(sub).catch(() => {});
    if (main.status === 'ready') void this.replay();
  }

  /** Opens both connections and subscribes; on failure closes them again and rejects. */
  private async connect(context: BackendInitContext): Promise<void> {
    if (this.main !== undefined) await this.closeConnections();
    this.cache = this.makeCache(context.clock);
    const main = this.makeClient('main');
    const sub = this.makeClient('sub');
    this.main = main;
    this.sub = sub;
    try {
      await main.connect();
      await this.checkVersion(main);
      await sub.connect();
      await this.subscribe(sub);
    } catch (cause) {
      await this.closeConnections();
      if (cause instanceof UnsupportedRedisVersionError) throw cause;
      throw new BackendUnavailableError(this.name, 'init', { cause });
    }
    main.on('ready', () => this.onMainReady(main));
    main.on('close', () => this.onMainClose(main));
    sub.on('ready', () => {
      if (this.sub === sub) void this.subscribe(sub).catch(() => {});
    });
    sub.on('close', () => {
      if (this.sub === sub) this.cache.setEnabled(false);
    });
    sub.on('message', (_channel: string, message: string) => {
      if (this.sub === sub) this.onMessage(message);
    });
  }

  /**
   * Refuses a Redis older than {@link MIN_REDIS_VERSION} (`INFO server`'s `redis_version`), as
   * ejabberd's `ejabberd_sm_redis` does before it loads its clean-up script. A server that does not
   * tell its version (`INFO` renamed away, a proxy) is used, with a warning.
   */
  private async checkVersion(main: Redis): Promise<void> {
    let version: string | undefined;
    try {
      version = redisVersionOf(await main.info('server'));
    } catch (error) {
      this.logger.warn({ backend: this.name, err: error }, 'cannot read the redis version (INFO server)');
      return;
    }
    if (version === undefined) {
      this.logger.warn({ backend: this.name }, 'redis does not report its version; assuming a supported one');
      return;
    }
    if (compareRedisVersions(version, MIN_REDIS_VERSION) < 0) {
      const error = new UnsupportedRedisVersionError(this.name, version, MIN_REDIS_VERSION);
      this.logger.error({ backend: this.name, version, minimum: MIN_REDIS_VERSION }, error.message);
      throw error;
    }
    this.logger.debug({ backend: this.name, version }, 'redis version');
  }

  setSession(session: Session): Promise<void> {
    return this.write('set', session, 'setSession');
  }

  deleteSession(session: Session): Promise<void> {
    return this.write('delete', session, 'deleteSession');
  }

  getSessions(): Promise<readonly Session[]>;
  getSessions(lserver: string): Promise<readonly Session[]>;
  getSessions(luser: string, lserver: string): readonly Session[] | Promise<readonly Session[]>;
  getSessions(a?: string, b?: string): readonly Session[] | Promise<readonly Session[]> {
    if (b !== undefined) return this.userSessions(a ?? '', b);
    if (a !== undefined) return this.serverSessions(a);
    return this.allSessions();
  }

  /**
   * Removes every row whose connection lives on `node`, one Lua batch of at most about
   * `cleanBatchSize` rows at a time over the node index, and yields each batch's removed rows
   * (every node's cache is invalidated per batch). Consumed lazily: a batch is removed when it is
   * asked for, so the caller's work on one batch (hooks) bounds the memory and paces the clean-up.
   * Iterating fails with {@link BackendUnavailableError} when Redis is away; what was yielded
   * before stays removed.
   */
  async *cleanNode(node: string): AsyncGenerator<readonly Session[]> {
    for (const host of [...this.hosts]) yield* this.cleanHost(host, node);
  }

  /**
   * `host_up`: a virtual host added at run time uses this backend; its rows are listed by
   * `getSessions()` and cleaned by `cleanNode` from now on (as `ejabberd_sm_redis` lists the hosts of
   * `get_vh_by_backend/1`).
   */
  hostUp(lserver: string): void {
    this.hosts.add(lserver);
  }

  /** `host_down`: the host is no longer listed by `getSessions()` (its rows are deleted as its sessions close). */
  hostDown(lserver: string): void {
    this.hosts.delete(lserver);
  }

  /** False: this backend caches per-user reads itself (pub/sub invalidated). */
  useCache(_lserver: string): boolean {
    return false;
  }

  /**
   * Resolves once Redis is reachable, the pub/sub subscription is up and every pending write has
   * been replayed. For tests, benchmarks and orderly shut-down; it waits as long as it takes.
   */
  whenSynced(): Promise<void> {
    if (this.isSynced()) return Promise.resolve();
    return new Promise((resolve) => {
      this.syncWaiters.push(resolve);
      this.checkSynced();
    });
  }

  /** Closes both connections. Writes still pending are dropped (logged): the next `init` of this node cleans its rows. */
  async stop(): Promise<void> {
    if (this.pending.size > 0) {
      this.logger.warn(
        { backend: this.name, pending: this.pending.size },
        'stopping with writes that never reached redis',
      );
      this.pending.clear();
    }
    await this.closeConnections();
  }

  private async closeConnections(): Promise<void> {
    const clients = [this.main, this.sub];
    this.main = undefined;
    this.sub = undefined;
    this.cache.setEnabled(false);
    await Promise.all(clients.map((c) => (c === undefined ? undefined : closeClient(c))));
  }

  // ---------------------------------------------------------------------------------------------

  private makeCache(clock: Clock): SessionCache {
    return new SessionCache(
      this.options.cacheSize ?? DEFAULTS.cacheSize,
      this.options.cacheLifetimeMs ?? DEFAULTS.cacheLifetimeMs,
      clock,
    );
  }

  private makeClient(role: 'main' | 'sub'): Redis {
    const initial = this.options.reconnectInitialMs ?? DEFAULTS.reconnectInitialMs;
    const max = this.options.reconnectMaxMs ?? DEFAULTS.reconnectMaxMs;
    const options: RedisOptions = {
      connectTimeout: this.options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
      commandTimeout: this.options.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs,
      ...this.options.redisOptions,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
      retryStrategy: (times: number) => Math.min(initial * 2 ** Math.min(times - 1, 20), max),
    };
    const client = new Redis(this.url, options as RedisOptions & { replyMapping?: 'legacy' });
    let failing = false;
    client.on('error', (error: Error) => {
      // Every failed reconnect attempt emits an error: log the first one loudly, the rest quietly.
      const level = failing ? 'debug' : 'warn';
      failing = true;
      this.logger[level]({ backend: this.name, connection: role, err: error }, 'redis connection error');
    });
    client.on('ready', () => {
      failing = false;
    });
    return client;
  }

  private async subscribe(sub: Redis): Promise<void> {
    try {
      await sub.subscribe(this.keys.channel);
    } catch (error) {
      this.logger.warn({ backend: this.name, err: error }, 'cannot subscribe to the invalidation channel');
      throw error;
    }
    if (this.sub !== sub && this.sub !== undefined) return;
    // A fresh subscription: whatever was cached before may have missed invalidations.
    this.cache.setEnabled(this.cacheOn);
    this.checkSynced();
  }

  private onMessage(message: string): void {
    const i = message.indexOf('\n');
    if (i < 0) return;
    if (message.slice(0, i) === this.instanceId) return;
    const key = message.slice(i + 1);
    if (key === '*') this.cache.flush();
    else this.cache.invalidate(key);
  }

  private onMainReady(main: Redis): void {
    if (this.main !== main) return;
    const wasDown = this.mainDown;
    if (this.mainDown) {
      this.mainDown = false;
      this.logger.info({ backend: this.name, pending: this.pending.size }, 'redis is back');
    }
    this.cache.flush();
    void this.replay();
    if (wasDown && this.incarnationMark !== '') void this.checkStoreLost(main);
  }

  private onMainClose(main: Redis): void {
    if (this.main !== main) return;
    // Nothing can be read while it is down, and nothing cached before may be trusted afterwards.
    this.cache.flush();
    if (this.mainDown) return;
    this.mainDown = true;
    this.logger.warn({ backend: this.name }, 'redis connection lost; commands fail until it is back');
  }

  private unavailable(operation: string, cause?: unknown): BackendUnavailableError {
    return new BackendUnavailableError(this.name, operation, cause === undefined ? {} : { cause });
  }

  /**
   * Maps an ioredis failure to the backend's typed errors. A command timeout means the connection
   * is stuck (a frozen Redis): it is dropped and re-opened, so that later commands fail fast
   * (`BackendUnavailableError`) until Redis answers again.
   */
  private failure(operation: string, cause: unknown): Error {
    if (cause instanceof Error && cause.name === 'ReplyError') {
      return new RedisCommandError(this.name, operation, { cause });
    }
    if (cause instanceof Error && cause.message === 'Command timed out') {
      const main = this.main;
      if (main !== undefined && main.status === 'ready') {
        this.logger.warn({ backend: this.name, operation }, 'redis did not answer in time; reconnecting');
        main.disconnect(true);
      }
      const ms = this.options.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs;
      return new BackendTimeoutError(this.name, operation, ms, { cause });
    }
    return this.unavailable(operation, cause);
  }

  private write(op: 'set' | 'delete', s: Session, operation: string): Promise<void> {
    const keys = this.keys;
    const userKey = keys.user(s.luser, s.lserver);
    const userField = keys.userField(s);
    const pendingKey = `${userKey}\n${userField}`;
    // This write supersedes any earlier one of the same row, waiting for Redis or in flight.
    this.pending.delete(pendingKey);
    const seq = ++this.seq;
    if (op === 'set') this.hosts.add(s.lserver);
    this.cache.invalidate(userKey);
    const main = this.main;
    if (main === undefined || main.status !== 'ready') {
      if (main !== undefined) this.pending.set(pendingKey, { op, session: s });
      this.latest.delete(pendingKey);
      return Promise.reject(this.unavailable(operation));
    }
    this.latest.set(pendingKey, seq);
    const serverKey = keys.server(s.lserver);
    const serverField = keys.serverField(s);
    const nodeKey = keys.node(s.lserver, s.sid.ref.node);
    const m = main.multi();
    if (op === 'set') {
      const value = encodeSession(s);
      m.hset(userKey, userField, value)
        .hset(serverKey, serverField, value)
        .hset(nodeKey, serverField, JSON.stringify([userKey, userField]));
    } else {
      m.hdel(userKey, userField).hdel(serverKey, serverField).hdel(nodeKey, serverField);
    }
    m.publish(keys.channel, `${this.instanceId}\n${userKey}`).hgetall(userKey);
    const ticket = this.cache.begin(userKey);
    return m.exec().then(
      (results) => {
        if (this.latest.get(pendingKey) === seq) this.latest.delete(pendingKey);
        const last = results?.[results.length - 1];
        if (results === null || last === undefined || results.some((r) => r[0] !== null)) {
          this.cache.end(ticket);
          const cause = results?.find((r) => r[0] !== null)?.[0] ?? new Error('transaction discarded');
          throw new RedisCommandError(this.name, operation, { cause });
        }
        this.cache.end(ticket, this.decodeAll(hashValues(last[1]), userKey));
      },
      (error: unknown) => {
        this.cache.end(ticket);
        this.cache.invalidate(userKey);
        const e = this.failure(operation, error);
        const isLatest = this.latest.get(pendingKey) === seq;
        if (isLatest) this.latest.delete(pendingKey);
        // Applied or not, we cannot tell: replay it (both writes are idempotent) unless a later
        // write of the same row was issued meanwhile (its own outcome decides).
        const unknownOutcome = e instanceof BackendUnavailableError || e instanceof BackendTimeoutError;
        if (unknownOutcome && this.main === main && isLatest) {
          this.pending.set(pendingKey, { op, session: s });
        }
        throw e;
      },
    );
  }

  /**
   * The user key, memoised per host: the same string object each time, whose hash V8 keeps, so a
   * warm read costs two map lookups and no string building. Bounded: cleared past twice the cache size.
   */
  private cacheKey(luser: string, lserver: string): string {
    let users = this.keyMemo.get(lserver);
    if (users === undefined) {
      users = new Map();
      this.keyMemo.set(lserver, users);
    }
    let key = users.get(luser);
    if (key === undefined) {
      if (++this.keyMemoSize > this.keyMemoMax) {
        this.keyMemo.clear();
        this.keyMemoSize = 1;
        users = new Map();
        this.keyMemo.set(lserver, users);
      }
      key = this.keys.user(luser, lserver);
      users.set(luser, key);
    }
    return key;
  }

  private userSessions(luser: string, lserver: string): readonly Session[] | Promise<readonly Session[]> {
    const key = this.cacheKey(luser, lserver);
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const main = this.main;
    if (main === undefined || main.status !== 'ready') {
      return Promise.reject(this.unavailable('getSessions'));
    }
    const load = (): Promise<readonly Session[]> =>
      main.hgetall(key).then(
        (h) => this.decodeAll(hashValues(h), key),
        (error: unknown) => {
          throw this.failure('getSessions', error);
        },
      );
    return this.cache.isEnabled ? this.cache.read(key, load) : load();
  }

  private serverSessions(lserver: string): Promise<readonly Session[]> {
    const main = this.main;
    if (main === undefined || main.status !== 'ready') {
      return Promise.reject(this.unavailable('getSessions'));
    }
    const key = this.keys.server(lserver);
    // HVALS, not ejabberd's HGETALL: the fields are not needed, so half the reply is never sent.
    return main.hvals(key).then(
      (values) => this.decodeAll(values, key),
      (error: unknown) => {
        throw this.failure('getSessions', error);
      },
    );
  }

  private async allSessions(): Promise<readonly Session[]> {
    const out: Session[] = [];
    for (const host of this.hosts) for (const s of await this.serverSessions(host)) out.push(s);
    return out;
  }

  /**
   * Decodes values, skipping (and logging) any that cannot be decoded. Not frozen (a frozen array
   * makes the session manager's `filter` on the routing path twice as slow), but shared with the
   * cache: like the memory backend's, a returned array must never be mutated.
   */
  private decodeAll(values: readonly string[], key: string): readonly Session[] {
    if (values.length === 0) return EMPTY;
    const out: Session[] = [];
    for (const v of values) {
      try {
        out.push(decodeSession(v));
      } catch (error) {
        this.logger.error(
          { backend: this.name, key, err: error },
          'skipping a session value that cannot be decoded',
        );
      }
    }
    return out;
  }

  /**
   * Runs the clean-up script over `<prefix>:<host>:node:<node>` until the HSCAN cursor is back to 0,
   * yielding the rows each batch removed (decoded). Each batch is bounded by `cleanBatchSize`.
   */
  private async *cleanHost(host: string, node: string): AsyncGenerator<readonly Session[]> {
    const batch = this.options.cleanBatchSize ?? DEFAULTS.cleanBatchSize;
    const nodeKey = this.keys.node(host, node);
    const serverKey = this.keys.server(host);
    let cursor = '0';
    do {
      const main = this.main;
      if (main === undefined || main.status !== 'ready') throw this.unavailable('cleanNode');
      let reply: unknown;
      try {
        reply = await main.eval(
          CLEAN_NODE_SCRIPT,
          2,
          nodeKey,
          serverKey,
          cursor,
          batch,
          '1',
          this.keys.channel,
          this.instanceId,
        );
      } catch (error) {
        throw this.failure('cleanNode', error);
      }
      const r = reply as unknown[];
      cursor = String(r[0]);
      const removed = Number(r[1]);
      if (removed > 0) this.cache.flush();
      this.logger.debug({ backend: this.name, event: 'clean_batch', host, node, removed }, 'clean-up batch');
      if (r.length > 2) yield this.decodeAll(r.slice(2).map(String), nodeKey);
    } while (cursor !== '0');
  }

  /** Replays the writes that failed while Redis was unreachable; the last intent per row wins. */
  private async replay(): Promise<void> {
    if (this.replaying) {
      this.replayAgain = true;
      return;
    }
    this.replaying = true;
    try {
      do {
        this.replayAgain = false;
        const main = this.main;
        if (main === undefined || main.status !== 'ready' || this.pending.size === 0) break;
        const inFlight: Promise<void>[] = [];
        for (const [key, entry] of [...this.pending]) {
          if (main.status !== 'ready') break;
          if (this.pending.get(key) !== entry) continue;
          inFlight.push(
            this.write(entry.op, entry.session, entry.op === 'set' ? 'setSession' : 'deleteSession').catch(
              () => {},
            ),
          );
        }
        await Promise.all(inFlight);
      } while (this.replayAgain || (this.pending.size > 0 && this.main?.status === 'ready'));
    } catch (error) {
      this.logger.error({ backend: this.name, err: error }, 'replaying pending writes failed');
    } finally {
      this.replaying = false;
    }
    this.checkSynced();
  }

  private isSynced(): boolean {
    return (
      this.main?.status === 'ready' &&
      this.pending.size === 0 &&
      !this.replaying &&
      (!this.cacheOn || this.cache.isEnabled)
    );
  }

  private checkSynced(): void {
    if (this.syncWaiters.length === 0) return;
    if (this.isSynced()) {
      const waiters = this.syncWaiters;
      this.syncWaiters = [];
      for (const w of waiters) w();
    } else if (this.main?.status === 'ready' && this.pending.size > 0 && !this.replaying) {
      void this.replay();
    }
  }
}

/** Values of an HGETALL reply, whether ioredis mapped it to an object or left it a flat array. */
function hashValues(reply: unknown): string[] {
  if (Array.isArray(reply)) {
    const out: string[] = [];
    for (let i = 1; i < reply.length; i += 2) out.push(String(reply[i]));
    return out;
  }
  if (reply instanceof Map) return [...reply.values()].map(String);
  if (typeof reply === 'object' && reply !== null) return Object.values(reply).map(String);
  return [];
}

/** Disconnects without waiting for Redis, and resolves once the socket is closed. */
function closeClient(client: Redis): Promise<void> {
  const status = client.status;
  if (status === 'end') return Promise.resolve();
  if (status === 'reconnecting' || status === 'close') {
    // The socket is already closed: cancelling the reconnect timer is all there is to do.
    client.disconnect(false);
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    client.once('end', () => resolve());
    client.disconnect(false);
    if (client.status === 'end') resolve();
  });
}
