/**
 * The defaults of `@otp-chat/sql-backend`, each with its ejabberd counterpart where one exists
 * (`sql_*` options, `ejabberd_sm`'s `cache_*` and `sm_*` options). Every {@link SqlBackendOptions} / {@link SqlClientOptions} field
 * falls back to these.
 */
export const DEFAULTS = Object.freeze({
  /** PostgreSQL URL (ejabberd: `sql_server`, `sql_port`, `sql_database`, `sql_username`). */
  url: 'postgres://postgres@127.0.0.1:5432/postgres',
  /**
   * The PostgreSQL schema (namespace) that holds the tables (`sm`, `users`, `otp_chat_schema`).
   * ejabberd uses the connection's default schema (`public`; `sql_prefix` on some databases).
   * Lower-case letters, digits and `_`, at most 48 characters.
   */
  schema: 'public',
  /**
   * Connections in the pool (ejabberd: `sql_pool_size`, 10). The driver pipelines statements on
   * each connection, so a small pool carries the load: measured on 2 cores (README), 1–2
   * connections gave the most open/close cycles per second; more connections mostly add context
   * switches. Raise it on a bigger database server.
   */
  poolSize: 2,
  /**
   * Longest wait for one statement once sent, after which it is cancelled and the call rejects
   * with `BackendUnavailableError` (cause `SqlTimeoutError`); a write that timed out (applied or
   * not: unknown) is replayed. The timeout fires at most a quarter late (one timer for every
   * statement), so with 2 s it fires before 2.5 s: before the session manager's own bound on every
   * backend call (`backendTimeoutMs`, 3 s), so that this typed error, the cancel and the replay come
   * first. Keep `1.25 × queryTimeoutMs` below `backendTimeoutMs` when changing either. ejabberd's
   * `sql_query_timeout` is 60 s; a session store must answer much sooner or be treated as down.
   */
  queryTimeoutMs: 2000,
  /** TCP connect and start-up timeout of each connection attempt (ejabberd: `sql_connect_timeout`, 5 s). */
  connectTimeoutMs: 2000,
  /** First delay before the notification connection reconnects; doubled up to {@link DEFAULTS.reconnectMaxMs}. */
  reconnectInitialMs: 50,
  /** Longest reconnect (and write replay) delay. */
  reconnectMaxMs: 2000,
  /**
   * Rows per clean-up statement (`DELETE … WHERE node = $1`, as `ejabberd_sm_sql:init/0`, but in
   * batches): each batch is its own short transaction, so no lock is held long and memory stays
   * bounded whatever the node left behind.
   */
  cleanBatchSize: 1000,
  /**
   * Failed writes kept for replay once the database is back (one per row, the last intent wins).
   * Past this many (a reconnect storm during a long outage), further failed writes are dropped,
   * counted (`droppedWrites`) and logged: about 30 MB at most.
   */
  maxPendingWrites: 100_000,
  /**
   * Entries in the per-user LRU cache (`SessionCache`). ejabberd's `sm_cache_size` is 1000 and
   * clears the whole table when full.
   */
  cacheSize: 10_000,
  /**
   * Lifetime of a cache entry. ejabberd uses 3600 s as a safety net; here every write notifies
   * every node (`LISTEN`/`NOTIFY`) and the cache is off while the notification connection is down,
   * so entries do not expire by default. Set a number to get ejabberd's safety net back.
   */
  cacheLifetimeMs: Number.POSITIVE_INFINITY,
});
