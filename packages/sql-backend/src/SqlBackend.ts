import { randomUUID } from 'node:crypto';
import { type Clock, type Logger, moduleLogger, silentLogger, systemClock } from '@otp-chat/actor';
import { type Backend, type BackendInitContext, type Session, SessionCache } from '@otp-chat/session-manager';
import { DEFAULTS } from './DEFAULTS.ts';
import { BackendUnavailableError } from './errors.ts';
import { NotifyListener } from './internal/NotifyListener.ts';
import { SqlClient, type SqlValue } from './SqlClient.ts';
import { checkEncoding, migrate, SM_SCHEMA } from './schema.ts';
import { decodeSmRow, encodeSmRow, type SmRow, sidPid, sidUsec } from './smRow.ts';
import { type SmStatements, smStatements, TRUNCATED_SENDER } from './smStatements.ts';

/** Options of {@link SqlBackend}; every field defaults to {@link DEFAULTS}. */
export interface SqlBackendOptions {
  /** PostgreSQL URL. Ignored when `client` is given. */
  readonly url?: string;
  /**
   * A client to share with other stores on the same database (the XMPP package's `SqlUserStore`).
   * The backend then does not end it at `stop`. @default a client of its own on `url`
   */
  readonly client?: SqlClient;
  /**
   * With `client`: end it at `stop` too, when the backend is the last to use it (a server whose
   * accounts and sessions share one client, stopped as a whole). @default false
   */
  readonly ownsClient?: boolean;
  /** The PostgreSQL schema that holds the `sm` table. */
  readonly schema?: string;
  /** The backend's name in logs and errors. @default 'sql' */
  readonly name?: string;
  /** Whether per-user reads are cached (`ejabberd_sm:use_cache/1`, `sm_use_cache`). @default true */
  readonly cache?: boolean;
  readonly cacheSize?: number;
  readonly cacheLifetimeMs?: number;
  readonly cleanBatchSize?: number;
  readonly maxPendingWrites?: number;
  readonly poolSize?: number;
  readonly queryTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly reconnectInitialMs?: number;
  readonly reconnectMaxMs?: number;
}

/** Where the backend's connection stands. */
export type SqlBackendStatus = 'stopped' | 'ready' | 'unavailable';

/** A write that could not reach PostgreSQL, replayed when it is back (the last intent per row wins). */
interface PendingWrite {
  readonly op: 'set' | 'delete';
  readonly session: Session;
}

const EMPTY: readonly Session[] = Object.freeze([]) as readonly Session[];
/** pg_notify's payload limit is 8000 bytes; a longer key is sent as a full flush. */
const MAX_PAYLOAD = 7900;

/**
 * The PostgreSQL session store, ejabberd's `ejabberd_sm_sql` without its weak spots
 * (no node-down clean-up, `sm_cache` caching errors, processone/ejabberd#1271):
 *
 * - ejabberd's `sm` table (same columns, primary key `(usec, pid)`, indexes on `node` and
 *   `(server_host, username)`), created and versioned by a migration at `init`;
 * - `setSession` is one upsert on the primary key, `deleteSession` one delete by it, each with the
 *   `pg_notify` that invalidates other nodes' caches in the same statement (one round trip,
 *   delivered at commit); reads are one indexed select; every statement is parameterised and
 *   prepared, and bounded by `queryTimeoutMs`;
 * - `cleanNode(node)` removes a node's rows in short batches (`cleanBatchSize`), so no lock is
 *   held long and memory stays bounded, and yields each committed batch's rows, so that the session
 *   manager runs `sm_remove_connection_hook` for each: this node's leftovers at the session
 *   manager's start, and a dead cluster node's on the survivor that cleans it (`init` itself
 *   deletes nothing: its deletions would run no hooks);
 * - a per-user {@link SessionCache}, served synchronously on a hit so that routing stays
 *   synchronous, invalidated by `LISTEN`/`NOTIFY` and off while the notification connection is down;
 * - while the database is unreachable every call fails fast with `BackendUnavailableError`, never
 *   an empty answer; writes that failed so are replayed once it is back (the last intent per row
 *   wins), so a `deleteSession` issued during an outage is not lost (ejabberd #1271);
 * - a database that comes back without this node's rows (a fresh or restored database, `TRUNCATE
 *   sm`) is noticed through a per-node marker row (`otp_chat_sm_node`, emptied by a `TRUNCATE sm`
 *   trigger that also notifies every node): the tables are migrated again, the marker written
 *   again, and the session manager told (`BackendInitContext.storeLost`), so that its live
 *   connections write their rows again.
 *
 * `useCache` answers false: the session manager must not add a cache on top of this one.
 */
export class SqlBackend implements Backend {
  readonly name: string;
  /** The PostgreSQL schema of the `sm` table. */
  readonly schema: string;
  private readonly options: SqlBackendOptions;
  private readonly channel: string;
  private readonly cacheOn: boolean;
  private readonly instanceId = randomUUID();
  private readonly sharedClient: SqlClient | undefined;
  private client: SqlClient | undefined;
  private listener: NotifyListener | undefined;
  private cache: SessionCache;
  private readonly pending = new Map<string, PendingWrite>();
  /** The sequence number of the latest write issued per row, while writes of that row are in flight. */
  private readonly latest = new Map<string, number>();
  /** Per user, the last statement sent or queued, so that a user's statements never overlap. */
  private readonly userTails = new Map<string, Promise<unknown>>();
  private seq = 0;
  private readonly maxPending: number;
  private dropped = 0;
  private readonly hosts = new Set<string>();
  private logger: Logger = silentLogger;
  private node = '';
  private replaying = false;
  private replayTimer: ReturnType<typeof setTimeout> | undefined;
  private replayAttempts = 0;
  private syncWaiters: (() => void)[] = [];
  private storeLost: (() => void) | undefined;
  /** What the marker row holds: the incarnation, else this object's id ('' before the first `init`). */
  private incarnationMark = '';
  /** After a reconnection, until the tables and the marker are checked: statements wait (fail fast). */
  private recovering = false;
  private recovery: Promise<void> | undefined;
  private recoverAgain = false;
  private recoveryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly keyMemo = new Map<string, Map<string, string>>();
  private keyMemoSize = 0;
  private readonly keyMemoMax: number;
  private readonly sql: SmStatements;

  constructor(options: SqlBackendOptions = {}) {
    this.options = options;
    this.name = options.name ?? 'sql';
    this.schema = options.schema ?? DEFAULTS.schema;
    this.sharedClient = options.client;
    this.cacheOn = options.cache ?? true;
    this.cache = this.makeCache(systemClock);
    this.keyMemoMax = 2 * (options.cacheSize ?? DEFAULTS.cacheSize);
    this.maxPending = options.maxPendingWrites ?? DEFAULTS.maxPendingWrites;
    this.sql = smStatements(this.schema); // refuses a schema name that is not a plain identifier
    this.channel = this.sql.channel;
  }

  /** `ready` when statements can be sent, `unavailable` while PostgreSQL cannot be reached. */
  get status(): SqlBackendStatus {
    if (this.client === undefined) return 'stopped';
    return this.usable() ? 'ready' : 'unavailable';
  }

  /** Writes waiting for PostgreSQL to come back. */
  get pendingWrites(): number {
    return this.pending.size;
  }

  /** Failed writes dropped because `maxPendingWrites` were already waiting. */
  get droppedWrites(): number {
    return this.dropped;
  }

  /** Entries in the per-user cache. */
  get cacheSize(): number {
    return this.cache.size;
  }

  /** Whether the cache is serving (false while the notification connection is down). */
  get cacheEnabled(): boolean {
    return this.cache.isEnabled;
  }

  /**
   * Connects, checks that the database is UTF-8, migrates the `sm` table (idempotent, versioned)
   * and listens for invalidations. Rejects with `BackendUnavailableError` when PostgreSQL cannot be
   * reached, `SchemaTooNewError` when the table is at a newer version, `DatabaseEncodingError` when
   * the database is not UTF-8. It deletes nothing: the session manager removes the rows a previous
   * run of this node left at its start with `cleanNode(node)`, hooks included
   * (`ejabberd_sm_sql:init/0` deleted them without hooks).
   *
   * On a running backend (its actor crashed and the backend supervisor restarted it) `init` keeps
   * the connections and the writes waiting for replay, flushes the cache and replays.
   *
   * Then it writes this node's store-loss marker (`otp_chat_sm_node`): when a reconnection finds
   * it gone, or `TRUNCATE sm` empties it, the database lost this node's rows and
   * `context.storeLost` is called.
   */
  async init(context: BackendInitContext): Promise<void> {
    this.logger = moduleLogger(context.logger, 'sql_backend');
    this.node = context.node;
    this.storeLost = context.storeLost;
    for (const h of context.hosts) this.hosts.add(h);
    if (this.client !== undefined && this.listener !== undefined) {
      this.cache.flush();
      this.scheduleReplay(0);
    } else {
      await this.connect(context);
    }
    this.incarnationMark = context.incarnation ?? this.instanceId;
    await this.markAlive();
  }

  /** Writes this node's store-loss marker; best effort (logged), as the next reconnection checks it. */
  private async markAlive(): Promise<void> {
    const client = this.client;
    if (client === undefined || !this.usable()) return;
    try {
      await client.query('markAlive', this.sql.mark, [this.node, this.incarnationMark]);
    } catch (error) {
      this.logger.warn({ backend: this.name, err: error }, 'cannot write the node marker');
    }
  }

  private async connect(context: BackendInitContext): Promise<void> {
    this.cache = this.makeCache(context.clock);
    const o = this.options;
    const client =
      this.sharedClient ??
      new SqlClient({
        name: this.name,
        ...(o.url === undefined ? {} : { url: o.url }),
        ...(o.poolSize === undefined ? {} : { poolSize: o.poolSize }),
        ...(o.queryTimeoutMs === undefined ? {} : { queryTimeoutMs: o.queryTimeoutMs }),
        ...(o.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: o.connectTimeoutMs }),
        ...(o.reconnectInitialMs === undefined ? {} : { reconnectInitialMs: o.reconnectInitialMs }),
        ...(o.reconnectMaxMs === undefined ? {} : { reconnectMaxMs: o.reconnectMaxMs }),
        logger: this.logger,
      });
    const listener = new NotifyListener({
      url: client.url,
      channel: this.channel,
      name: this.name,
      connectTimeoutMs: o.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
      reconnectInitialMs: o.reconnectInitialMs ?? DEFAULTS.reconnectInitialMs,
      reconnectMaxMs: o.reconnectMaxMs ?? DEFAULTS.reconnectMaxMs,
      heartbeatMs: Math.max(1000, o.queryTimeoutMs ?? DEFAULTS.queryTimeoutMs),
      logger: this.logger,
      onNotify: (payload) => {
        if (this.listener === listener) this.onNotify(payload);
      },
      onUp: () => {
        if (this.listener === listener) this.onUp();
      },
      onDown: () => {
        if (this.listener === listener) this.onDown();
      },
    });
    try {
      await checkEncoding(client);
      const result = await migrate(client, this.schema, SM_SCHEMA);
      if (result.from !== result.to) {
        this.logger.info({ backend: this.name, schema: this.schema, ...result }, 'migrated the sm table');
      }
      await listener.start();
    } catch (error) {
      await listener.stop();
      if (client !== this.sharedClient) await client.end(0).catch(() => {});
      // SchemaTooNewError, DatabaseEncodingError, SqlCommandError as they are; an outage as init's.
      if (error instanceof BackendUnavailableError && error.operation !== 'init') {
        throw new BackendUnavailableError(this.name, 'init', { cause: error.cause ?? error });
      }
      throw error;
    }
    this.client = client;
    this.listener = listener;
    this.cache.setEnabled(this.cacheOn);
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
    if (a !== undefined) return this.select('getSessions', this.sql.server, [a]);
    return this.allSessions();
  }

  /** Every host's rows, one indexed select per host (as `ejabberd_sm_sql:get_sessions/0`). */
  private async allSessions(): Promise<readonly Session[]> {
    const out: Session[] = [];
    for (const host of this.hosts)
      for (const s of await this.select('getSessions', this.sql.server, [host])) out.push(s);
    return out;
  }

  /**
   * Removes every row whose connection lives on `node`, in batches of at most `cleanBatchSize`,
   * each its own short statement (no long lock, bounded memory), and yields each batch's rows once
   * it is committed, so that the session manager runs `sm_remove_connection_hook` for each, batch
   * by batch. Consumed lazily: a batch is removed when it is asked for, and stopping the iteration
   * early leaves the remaining rows in place. Every node's cache is flushed after a batch that
   * removed rows. Iterating fails with `BackendUnavailableError` when the database cannot be
   * reached (rows yielded before stay removed).
   */
  async *cleanNode(node: string): AsyncGenerator<readonly Session[], void, undefined> {
    const batch = this.options.cleanBatchSize ?? DEFAULTS.cleanBatchSize;
    for (;;) {
      const client = this.ready('cleanNode');
      const rows = await client.query<SmRow>('cleanNode', this.sql.clean, [
        node,
        batch,
        this.channel,
        `${this.instanceId}\n*`,
      ]);
      if (rows.length > 0) this.cache.flush();
      this.logger.debug(
        { backend: this.name, event: 'clean_batch', node, removed: rows.length },
        'clean-up batch',
      );
      if (rows.length > 0) yield this.decodeAll(rows);
      if (rows.length < batch) return;
    }
  }

  /**
   * `host_up`: a virtual host added at run time uses this backend; its rows are listed by
   * `getSessions()` from now on (as `ejabberd_sm_sql` lists the hosts of `get_vh_by_backend/1`).
   */
  hostUp(lserver: string): void {
    this.hosts.add(lserver);
  }

  /** `host_down`: the host is no longer listed by `getSessions()` (its rows go as its sessions close). */
  hostDown(lserver: string): void {
    this.hosts.delete(lserver);
  }

  /** False: this backend caches per-user reads itself (invalidated by `LISTEN`/`NOTIFY`). */
  useCache(_lserver: string): boolean {
    return false;
  }

  /**
   * Resolves once PostgreSQL is reachable, the notification connection listens and every pending
   * write has been replayed. For tests, benchmarks and orderly shut-down; it waits as long as it takes.
   */
  whenSynced(): Promise<void> {
    if (this.isSynced()) return Promise.resolve();
    return new Promise((resolve) => {
      this.syncWaiters.push(resolve);
      this.checkSynced();
    });
  }

  /**
   * Stops listening and closes the connections (a shared client is left open unless `ownsClient`). Writes still
   * pending are dropped (logged): the next `init` of this node cleans its rows.
   */
  async stop(): Promise<void> {
    if (this.pending.size > 0) {
      this.logger.warn(
        { backend: this.name, pending: this.pending.size },
        'stopping with writes that never reached postgres',
      );
      this.pending.clear();
    }
    if (this.replayTimer !== undefined) clearTimeout(this.replayTimer);
    this.replayTimer = undefined;
    if (this.recoveryTimer !== undefined) clearTimeout(this.recoveryTimer);
    this.recoveryTimer = undefined;
    this.recovering = false;
    const client = this.client;
    const listener = this.listener;
    this.client = undefined;
    this.listener = undefined;
    this.cache.setEnabled(false);
    await listener?.stop();
    if (client !== undefined && (client !== this.sharedClient || this.options.ownsClient === true)) {
      await client.end();
    }
  }

  // ---------------------------------------------------------------------------------------------

  private makeCache(clock: Clock): SessionCache {
    return new SessionCache(
      this.options.cacheSize ?? DEFAULTS.cacheSize,
      this.options.cacheLifetimeMs ?? DEFAULTS.cacheLifetimeMs,
      clock,
    );
  }

  /** Whether statements may be sent: listening, and not re-checking the database after a reconnection. */
  private usable(): boolean {
    return this.listener?.isUp === true && !this.recovering;
  }

  /** The client when statements may be sent; fails fast while the database is known to be down. */
  private ready(operation: string): SqlClient {
    const client = this.client;
    if (client === undefined || !this.usable()) {
      throw new BackendUnavailableError(this.name, operation);
    }
    return client;
  }

  private onUp(): void {
    this.logger.info({ backend: this.name, pending: this.pending.size }, 'postgres is reachable');
    // Invalidations may have been missed while down: start from an empty cache.
    this.cache.setEnabled(this.cacheOn);
    // The database may have come back without this node's rows, or without the tables (a fresh
    // one): checked before anything else is sent, replayed or answered.
    this.recovering = true;
    this.recover();
  }

  /**
   * After a reconnection (`onUp`) or a `TRUNCATE sm` (its notification): migrates the `sm` table
   * (a fresh database gets it back; a no-op otherwise), then checks this node's marker. Gone: the
   * database lost this node's rows; the marker is written again and the session manager told
   * (`storeLost`). Runs one at a time; a failure is logged and retried while the database is up.
   */
  private recover(): void {
    if (this.recovery !== undefined) {
      this.recoverAgain = true;
      return;
    }
    const client = this.client;
    if (client === undefined) return;
    this.recovery = this.checkStore(client).finally(() => {
      this.recovery = undefined;
      if (this.recoverAgain && this.client === client) {
        this.recoverAgain = false;
        this.recover();
      }
    });
  }

  private async checkStore(client: SqlClient): Promise<void> {
    let lost: boolean;
    try {
      await migrate(client, this.schema, SM_SCHEMA);
      lost = (await client.query('storeLost', this.sql.marker, [this.node])).length === 0;
      if (lost) await client.query('storeLost', this.sql.mark, [this.node, this.incarnationMark]);
    } catch (error) {
      if (this.client !== client) return;
      this.logger.warn({ backend: this.name, err: error }, 'cannot check the store after a reconnection');
      if (this.recoveryTimer === undefined && this.listener?.isUp === true) {
        this.recoveryTimer = setTimeout(() => {
          this.recoveryTimer = undefined;
          if (this.listener?.isUp === true) this.recover();
        }, this.options.reconnectMaxMs ?? DEFAULTS.reconnectMaxMs);
        this.recoveryTimer.unref?.();
      }
      return;
    }
    if (this.client !== client) return;
    this.recovering = false;
    if (lost) {
      this.cache.flush();
      this.logger.warn(
        { backend: this.name, node: this.node },
        'postgres came back without this node’s sessions (a fresh or restored database, or sm truncated)',
      );
      this.storeLost?.();
    }
    this.scheduleReplay(0);
    this.checkSynced();
  }

  private onDown(): void {
    this.cache.setEnabled(false);
  }

  private onNotify(payload: string): void {
    const i = payload.indexOf('\n');
    if (i < 0) return;
    const sender = payload.slice(0, i);
    if (sender === this.instanceId) return;
    const key = payload.slice(i + 1);
    if (key === '*') this.cache.flush();
    else this.cache.invalidate(key);
    // TRUNCATE sm emptied every marker: check this node's (without holding statements back).
    if (sender === TRUNCATED_SENDER) this.recover();
  }

  /** The cache key of a user: `<length>:<luser>@<lserver>` (unambiguous whatever the strings hold). */
  private userKey(luser: string, lserver: string): string {
    return `${luser.length}:${luser}@${lserver}`;
  }

  /** The user key, memoised per host, so that a warm read builds no string. Bounded. */
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
      key = this.userKey(luser, lserver);
      users.set(luser, key);
    }
    return key;
  }

  private notifyPayload(key: string): string {
    const payload = `${this.instanceId}\n${key}`;
    return Buffer.byteLength(payload) > MAX_PAYLOAD ? `${this.instanceId}\n*` : payload;
  }

  private write(op: 'set' | 'delete', s: Session, operation: string): Promise<void> {
    let values: ReturnType<typeof encodeSmRow> | undefined;
    try {
      if (op === 'set') values = encodeSmRow(s);
    } catch (error) {
      return Promise.reject(error);
    }
    const usec = values === undefined ? String(sidUsec(s.sid)) : values[0];
    const pid = values === undefined ? sidPid(s.sid) : values[1];
    const rowKey = `${usec}\n${pid}`;
    const userKey = this.cacheKey(s.luser, s.lserver);
    // This write supersedes any earlier one of the same row, waiting for the database or in flight.
    this.pending.delete(rowKey);
    const seq = ++this.seq;
    if (op === 'set') this.hosts.add(s.lserver);
    this.cache.invalidate(userKey);
    const client = this.client;
    if (client === undefined || !this.usable()) {
      if (client !== undefined) this.queue(rowKey, { op, session: s });
      this.latest.delete(rowKey);
      return Promise.reject(new BackendUnavailableError(this.name, operation));
    }
    this.latest.set(rowKey, seq);
    const payload = this.notifyPayload(userKey);
    const text = values === undefined ? this.sql.delete : this.sql.set;
    const params =
      values === undefined
        ? [usec, pid, this.channel, payload, s.lserver, s.luser]
        : [
            values[0],
            values[1],
            values[2],
            values[3],
            values[4],
            values[5],
            values[6],
            values[7],
            this.channel,
            payload,
          ];
    const p = this.inOrder<SmRow>(userKey, client, operation, text, params);
    // The statement answers the user's rows as they are after the write: they refresh the cache
    // (unless something invalidated the user meanwhile), as the session manager reads them next.
    const ticket = this.cache.begin(userKey);
    return p.then(
      (rows) => {
        this.release(userKey, p);
        if (this.latest.get(rowKey) === seq) this.latest.delete(rowKey);
        this.cache.endWrite(ticket, this.decodeAll(rows));
      },
      (error: unknown) => {
        this.release(userKey, p);
        this.cache.end(ticket);
        this.cache.invalidate(userKey);
        const isLatest = this.latest.get(rowKey) === seq;
        if (isLatest) this.latest.delete(rowKey);
        // Applied or not, we cannot tell: replay it (both writes are idempotent) unless a later
        // write of the same row was issued meanwhile (its own outcome decides).
        if (error instanceof BackendUnavailableError && this.client === client && isLatest) {
          this.queue(rowKey, { op, session: s });
          this.scheduleReplay();
        }
        throw error;
      },
    );
  }

  /**
   * Runs `send` once every statement issued earlier for the same user has settled. A pool does not
   * order statements across its connections: without this, a delete could overtake an earlier
   * upsert of the same row (which then resurrects it), and a read issued before a write could be
   * answered after it, so that a stanza routed on the old rows (say, to the offline store) is
   * decided after the write's consequences (say, the offline flush of an initial presence) ran.
   * One user's statements thus go out as they would on one connection; different users' in parallel.
   */
  private inOrder<R>(
    userKey: string,
    client: SqlClient,
    operation: string,
    text: string,
    params: readonly SqlValue[],
  ): Promise<R[]> {
    const before = this.userTails.get(userKey);
    let p: Promise<R[]>;
    if (before === undefined) p = client.query<R>(operation, text, params);
    else {
      // Waited behind the user's earlier statements: sent only if the database is still usable
      // (a frozen or lost database fails the queue fast instead of piling statements onto it).
      const send = (): Promise<R[]> =>
        this.client === client && this.usable()
          ? client.query<R>(operation, text, params)
          : Promise.reject(new BackendUnavailableError(this.name, operation));
      p = before.then(send, send);
    }
    this.userTails.set(userKey, p);
    return p;
  }

  /** Called by the owner of `p` once it settled: the next statement of the user need not wait for it. */
  private release(userKey: string, p: Promise<unknown>): void {
    if (this.userTails.get(userKey) === p) this.userTails.delete(userKey);
  }

  /**
   * Keeps a failed write for replay, within `maxPendingWrites` (one entry per row: an outage that
   * sees more distinct rows fail, such as a reconnect storm, must not exhaust memory). Past it the
   * write is dropped and counted; the next start of this node cleans its rows anyway.
   */
  private queue(rowKey: string, entry: PendingWrite): void {
    if (!this.pending.has(rowKey) && this.pending.size >= this.maxPending) {
      this.dropped++;
      if (this.dropped === 1 || this.dropped % 1000 === 0) {
        this.logger.error(
          { backend: this.name, dropped: this.dropped, max: this.maxPending },
          'too many writes waiting for postgres: dropping',
        );
      }
      return;
    }
    this.pending.set(rowKey, entry);
  }

  private userSessions(luser: string, lserver: string): readonly Session[] | Promise<readonly Session[]> {
    const key = this.cacheKey(luser, lserver);
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const load = (): Promise<readonly Session[]> => {
      let client: SqlClient;
      try {
        client = this.ready('getSessions');
      } catch (error) {
        return Promise.reject(error);
      }
      const p = this.inOrder<SmRow>(key, client, 'getSessions', this.sql.user, [lserver, luser]);
      return p.then(
        (rows) => {
          this.release(key, p);
          return this.decodeAll(rows);
        },
        (error: unknown) => {
          this.release(key, p);
          throw error;
        },
      );
    };
    return this.cache.isEnabled ? this.cache.read(key, load) : load();
  }

  private select(operation: string, text: string, params: readonly string[]): Promise<readonly Session[]> {
    let client: SqlClient;
    try {
      client = this.ready(operation);
    } catch (error) {
      return Promise.reject(error);
    }
    return client.query<SmRow>(operation, text, params).then((rows) => this.decodeAll(rows));
  }

  /**
   * Decodes rows, skipping (and logging) any that cannot be decoded. Shared with the cache: like
   * the memory backend's, a returned array must never be mutated.
   */
  private decodeAll(rows: readonly SmRow[]): readonly Session[] {
    if (rows.length === 0) return EMPTY;
    const out: Session[] = [];
    for (const row of rows) {
      try {
        out.push(decodeSmRow(row));
      } catch (error) {
        this.logger.error({ backend: this.name, err: error }, 'skipping an sm row that cannot be decoded');
      }
    }
    return out;
  }

  /** Replays the pending writes after `delayMs` (exponential backoff while they keep failing). */
  private scheduleReplay(delayMs?: number): void {
    if (this.pending.size === 0 || this.replayTimer !== undefined || this.client === undefined) return;
    const initial = this.options.reconnectInitialMs ?? DEFAULTS.reconnectInitialMs;
    const max = this.options.reconnectMaxMs ?? DEFAULTS.reconnectMaxMs;
    const delay = delayMs ?? Math.min(initial * 2 ** Math.min(this.replayAttempts, 20), max);
    this.replayTimer = setTimeout(() => {
      this.replayTimer = undefined;
      void this.replay();
    }, delay);
    this.replayTimer.unref?.();
  }

  /** Replays the writes that failed while PostgreSQL was unreachable; the last intent per row wins. */
  private async replay(): Promise<void> {
    if (this.replaying) return;
    this.replaying = true;
    try {
      while (this.pending.size > 0 && this.usable()) {
        const inFlight: Promise<void>[] = [];
        for (const [key, entry] of [...this.pending]) {
          if (this.pending.get(key) !== entry) continue;
          inFlight.push(
            this.write(entry.op, entry.session, entry.op === 'set' ? 'setSession' : 'deleteSession').catch(
              () => {},
            ),
          );
        }
        await Promise.all(inFlight);
        if (this.pending.size > 0) break; // some failed again: back off
      }
    } catch (error) {
      this.logger.error({ backend: this.name, err: error }, 'replaying pending writes failed');
    } finally {
      this.replaying = false;
    }
    if (this.pending.size > 0) {
      this.replayAttempts++;
      if (this.usable()) this.scheduleReplay();
    } else {
      this.replayAttempts = 0;
    }
    this.checkSynced();
  }

  private isSynced(): boolean {
    return (
      this.usable() && this.pending.size === 0 && !this.replaying && (!this.cacheOn || this.cache.isEnabled)
    );
  }

  private checkSynced(): void {
    if (this.syncWaiters.length === 0) return;
    if (this.isSynced()) {
      const waiters = this.syncWaiters;
      this.syncWaiters = [];
      for (const w of waiters) w();
    } else if (this.usable() && this.pending.size > 0 && !this.replaying) {
      this.scheduleReplay(0);
    }
  }
}
