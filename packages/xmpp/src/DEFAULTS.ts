/**
 * The defaults of `@otp-chat/xmpp`, each with its ejabberd counterpart. Where a default differs
 * from ejabberd the comment says so.
 */
export const DEFAULTS = Object.freeze({
  /** Listen address. ejabberd listens on every interface; the example and tests use loopback. */
  host: '127.0.0.1',
  /** The RFC 6120 client port (`ejabberd_c2s` listener `port: 5222`). */
  port: 5222,
  /** The virtual host served when none is configured (ejabberd's `hosts: [localhost]`). */
  domain: 'localhost',
  /** `max_stanza_size` of the c2s listener: 256 KiB, as ejabberd's example config. */
  maxStanzaSize: 262_144,
  /**
   * Per-connection rate shaper (ejabberd's `c2s_shaper`): bytes per second read from one socket
   * before reading pauses. ejabberd's example config sets `normal` (1000 B/s) on c2s; otp-chat
   * defaults to 1 MB/s so that a benchmark is not shaped, while a flooding client still is.
   */
  shaperBytesPerSecond: 1_000_000,
  /** Bytes a connection may read at once before the shaper applies (the token bucket size). */
  shaperBurstBytes: 1_048_576,
  /** `backlog` of the listener (ejabberd's default is 5, which loses connections under load). */
  backlog: 1024,
  /** SCRAM iteration count for new credentials (ejabberd uses 4096). */
  scramIterations: 4096,
  /** SASL failures allowed on one stream before it is closed (`max_auth_failures`-like). */
  maxAuthFailures: 3,
  /**
   * `resource_conflict`: what a bind for a resource that is already bound does. ejabberd's code
   * default is `acceptnew` (same behaviour as `closeold`: the session manager replaces the old one).
   */
  resourceConflict: 'acceptnew' as 'setresource' | 'closeold' | 'closenew' | 'acceptnew',
  /** Milliseconds a stream may stay before authentication and bind complete (ejabberd: 30 s on negotiation). */
  negotiationTimeoutMs: 30_000,
  /** Offline messages stored per user by `modOffline` (ejabberd's `max_user_offline_messages`: 5000 via shaper). */
  maxOfflineMessages: 5000,
  /** Size in bytes of the slices the framing parser checks `maxStanzaSize` after. */
  parserSliceBytes: 16_384,
});
