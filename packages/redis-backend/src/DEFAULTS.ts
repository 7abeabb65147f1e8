/**
 * The defaults of `@otp-chat/redis-backend`, each with its ejabberd counterpart where one exists
 * (`ejabberd_sm_redis`, `ejabberd_sm`'s `sm_cache` and their options). Every {@link RedisBackendOptions} field falls back to these.
 */
export const DEFAULTS = Object.freeze({
  /** Redis URL. */
  url: 'redis://127.0.0.1:6379',
  /**
   * Key prefix and pub/sub channel. ejabberd hard-codes `ejabberd:sm`; the layout under the prefix
   * is ejabberd's (`<prefix>:<luser>@<lserver>`, `<prefix>:<lserver>`, `<prefix>:<lserver>:node:<node>`).
   */
  prefix: 'otp-chat:sm',
  /**
   * Rows per Lua clean-up batch (ejabberd's `HSCAN … COUNT 1000`). Each batch is one script call whose
   * reply holds at most about this many rows, so cleaning is bounded in memory (ejabberd #1905).
   */
  cleanBatchSize: 1000,
  /**
   * Entries in the per-user LRU cache. ejabberd's `sm_cache_size` is 1000 and clears the whole table
   * when full; this is an LRU, so a larger default costs only the entries actually used.
   */
  cacheSize: 10_000,
  /**
   * Lifetime of a cache entry. ejabberd uses 3600 s as a safety net; here invalidation is complete
   * while the pub/sub subscription is up and the cache is flushed whenever it drops, so entries do
   * not expire by default, which keeps a clock read off the routing hot path. Set a number to get
   * ejabberd's safety net back.
   */
  cacheLifetimeMs: Number.POSITIVE_INFINITY,
  /** First reconnect delay; doubled on each attempt up to {@link DEFAULTS.reconnectMaxMs}. */
  reconnectInitialMs: 50,
  /** Longest reconnect delay (ioredis' own default caps at 5000 ms plus jitter). */
  reconnectMaxMs: 2000,
  /** TCP connect timeout of each attempt. */
  connectTimeoutMs: 2000,
  /**
   * Longest wait for one Redis reply (ioredis' `commandTimeout`). A command past it fails with
   * `BackendTimeoutError` and the connection is dropped and re-opened, so that a frozen Redis
   * (SIGSTOP, a stuck host) makes every later command fail fast instead of piling up. ejabberd's
   * eredis calls time out after 5 s, without reconnecting.
   */
  commandTimeoutMs: 2000,
});
