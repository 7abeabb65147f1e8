/**
 * Every default of `@otp-chat/cluster`, in one place. Anchors: Erlang's `net_ticktime` (60 s: a
 * silent node is down after 45–75 s), socket.io's Redis Streams adapter (heartbeat 5 s, timeout
 * 10 s). These are shorter than Erlang's because a chat server wants a dead node's users to be
 * reachable again (their rows cleaned) within seconds, and a Redis round trip costs little.
 */
export const DEFAULTS = Object.freeze({
  /** Redis URL. */
  url: 'redis://127.0.0.1:6379',
  /** Prefix of every key and of the events channel. */
  prefix: 'otp-chat:cluster',
  /** How often a node writes its heartbeat and reads the membership (one Lua call). */
  heartbeatIntervalMs: 2000,
  /**
   * A node whose last heartbeat (Redis server time) is older than this is down. A kill -9 is seen
   * within `nodeTimeoutMs + heartbeatIntervalMs` (9 s), under the 10 s the cluster promises.
   */
  nodeTimeoutMs: 7000,
  /** Messages per stream entry at most: a burst to one node becomes one XADD per this many. */
  batchMaxMessages: 512,
  /** Characters of JSON per stream entry at most (a larger single signal goes alone). */
  batchMaxBytes: 256 * 1024,
  /** Batches written and not yet acknowledged per destination (pipelined on one connection). */
  batchesInFlight: 8,
  /** Stream entries per XREAD (each a batch of up to `batchMaxMessages`). */
  readCount: 16,
  /** How long one blocking XREAD waits before it is issued again. */
  readBlockMs: 1000,
  /**
   * `MAXLEN ~` of each inbox stream, in entries (batches of at most `batchMaxBytes`: so at most
   * about 512 MB of Redis per inbox of a node that stopped reading, typically a few MB). The reader
   * trims what it has read, so the bound only matters for a node that stopped reading; what it drops
   * is counted as lost by the receiver (a gap in the sender's sequence).
   */
  inboxMaxLen: 2000,
  /**
   * Messages waiting for one destination while Redis is unreachable. Beyond it new messages are
   * dropped (logged, counted), which the receiver sees as a gap and answers with a reset of the
   * pair's links and monitors (`noconnection`), as a broken Erlang connection.
   */
  outboxMaxMessages: 100_000,
  /** The same bound in characters of JSON queued for one destination. */
  outboxMaxBytes: 64 * 1024 * 1024,
  /** A failed XADD that Redis refused (an error reply, not a lost connection) is retried this often. */
  replyErrorRetries: 3,
  /** The node-down clean-up lock: its expiry, renewed every third of it while the clean-up runs. */
  cleanupLockTtlMs: 30_000,
  /**
   * How long `Cluster.start` waits for a survivor to finish cleaning this name's previous
   * incarnation before it gives up.
   */
  claimTimeoutMs: 60_000,
  /** A dead node's cleaned entry is forgotten this long after it went down. */
  forgetAfterMs: 24 * 60 * 60 * 1000,
  /**
   * Every Redis command fails after this long without an answer (ioredis `commandTimeout`; the
   * blocking inbox read gets `readBlockMs` more). A command in flight when the connection drops can
   * otherwise stay unanswered for ever; a batch whose XADD timed out is written again (the receiver
   * skips it if the first one had arrived).
   */
  commandTimeoutMs: 5000,
  /** Reconnection backoff of the three Redis connections (ioredis `retryStrategy`). */
  reconnectInitialMs: 50,
  reconnectMaxMs: 2000,
  connectTimeoutMs: 5000,
  /** How long `stop` waits for queued messages to reach Redis. */
  stopFlushTimeoutMs: 2000,
});
