/**
 * The defaults of `@otp-chat/xmpp`, each with its ejabberd counterpart. Where a default differs
 * from ejabberd the comment says so.
 */
export const DEFAULTS = Object.freeze({
  /** Listen address. ejabberd listens on every interface; the example and tests use loopback. */
  host: '127.0.0.1',
  /** The RFC 6120 client port (`ejabberd_c2s` listener `port: 5222`). */
  port: 5222,
  /** Direct TLS port (XEP-0368 `_xmpps-client`; ejabberd listener with `tls: true`). */
  directTlsPort: 5223,
  /** WebSocket port (RFC 7395; ejabberd's `ejabberd_http` listener with `/websocket`). */
  websocketPort: 5280,
  /** WebSocket over TLS port (`wss`; ejabberd's example uses 5443). */
  websocketSecurePort: 5443,
  /** The WebSocket endpoint's path. ejabberd's example config uses `/websocket`; converse.js's docs `/xmpp-websocket`. */
  websocketPath: '/xmpp-websocket',
  /**
   * The SASL mechanisms offered, strongest first (ejabberd offers SCRAM-SHA-1, -256, -512, their
   * -PLUS variants over TLS, and PLAIN).
   */
  mechanisms: Object.freeze([
    'SCRAM-SHA-512-PLUS',
    'SCRAM-SHA-256-PLUS',
    'SCRAM-SHA-1-PLUS',
    'SCRAM-SHA-512',
    'SCRAM-SHA-256',
    'SCRAM-SHA-1',
    'PLAIN',
  ] as const),
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
  /** Milliseconds a module store call (Redis) may take before it fails (`ModuleStoreError`). */
  moduleStoreTimeoutMs: 5000,
  /** Items in one roster (ejabberd has no limit; a bound on what one user can make the server hold). */
  maxRosterItems: 2000,
  /** JIDs in one blocklist (XEP-0191; ejabberd's privacy lists have no limit). */
  maxBlocklistItems: 1000,
  /**
   * XEP-0198 stream management offered. ejabberd's example config loads `mod_stream_mgmt`; off
   * here by default (`XmppServer`), on in the chat server.
   */
  streamManagement: false,
  /** `mod_stream_mgmt`'s `resume_timeout`: 300 s. */
  resumeTimeoutMs: 300_000,
  /** `mod_stream_mgmt`'s `max_ack_queue`: 5000 stanzas. */
  maxAckQueue: 5000,
  /** Directed presences remembered per session (ejabberd's unbounded `pres_a`). */
  maxDirectedPresences: 1000,
  /**
   * Size in bytes of the slices the framing parser tokenizes input in: a stanza still open after
   * one is checked against `maxStanzaSize` then (a complete one is counted exactly at its end tag).
   */
  parserSliceBytes: 16_384,
  /**
   * `pre_auth_max_stanza_size`: the stanza size limit until SASL succeeds (ejabberd's default,
   * 8192 bytes), so that an unauthenticated stranger cannot make the server buffer 256 KiB.
   */
  preAuthMaxStanzaSize: 8192,
  /** `max_stanza_elements`: elements in one stanza. ejabberd's default is unlimited. */
  maxStanzaElements: 10_000,
  /** `pre_auth_max_stanza_elements`: elements in one stanza before authentication (ejabberd: 32). */
  preAuthMaxStanzaElements: 32,
  /**
   * Deepest element nesting in a stanza (the stanza element is depth 1). ejabberd has no separate
   * option; no XMPP extension nests anywhere near this, and it bounds every recursive walk of a
   * stanza (copy, serialisation) far below the stack limit.
   */
  maxElementDepth: 64,
  /** Most attributes on one element (no ejabberd option). */
  maxAttributes: 64,
  /** Longest element or attribute name in characters (no ejabberd option). */
  maxNameLength: 256,
  /**
   * Bytes a connection may hold for its client beyond what the socket has taken (routed stanzas
   * waiting for a slow reader). Past it the stream is closed with `policy-violation` "Too many
   * pending stanzas" and what it still holds is re-routed (ejabberd closes such a stream through
   * `max_fsm_queue`, 10000 messages, or `mod_stream_mgmt`'s `max_ack_queue`; a byte bound is what
   * bounds memory).
   */
  maxSendQueueBytes: 1_048_576,
  /**
   * Bytes read from a socket and not yet parsed (the connection is busy, e.g. waiting for a
   * backend) past which reading pauses until the connection catches up.
   */
  maxPendingInputBytes: 65_536,
  /**
   * Failed-authentication accounting (ejabberd's `mod_fail2ban`, which counts per IP only:
   * `c2s_max_auth_failures` 20, `c2s_auth_ban_lifetime` 3600 s, and no delay). Here failures are
   * counted per IP and per account; past `freeFailures` each is answered after a delay doubling
   * from `baseDelayMs` up to `maxDelayMs`; `maxFailuresPerIp` (ejabberd's 20) locks the address
   * and `maxFailuresPerAccount` the account for `lockoutMs`; failures are forgotten `windowMs`
   * after the last one; at most `maxEntries` addresses and accounts are remembered.
   */
  authThrottle: Object.freeze({
    freeFailures: 1,
    baseDelayMs: 500,
    maxDelayMs: 8000,
    maxFailuresPerIp: 20,
    maxFailuresPerAccount: 10,
    lockoutMs: 600_000,
    windowMs: 600_000,
    maxEntries: 100_000,
  }),
  /**
   * How long a closing connection waits for its client to take the last bytes (the stream error)
   * before the socket is destroyed; stanzas still unwritten then are re-routed.
   */
  closeTimeoutMs: 2000,
  /**
   * The stream language when the client names none (ejabberd's `language` option, `"en"`): the
   * response header's `xml:lang`, and the `xml:lang` stanzas from the client get when they have none.
   */
  language: 'en',
  /**
   * The longest `xml:lang` a stream header may carry (in bytes; RFC 5646 §4.4.1 asks for at least 35):
   * a longer one ends the stream with `policy-violation`, as `xmpp_stream_in:process_stream/2` does.
   */
  maxLangBytes: 35,
  /** How many times one stanza is re-routed from closing connections before it is answered with an error. */
  maxReroutes: 3,
  /**
   * Where the server's handlers sit on the global `host_up` and `host_down` hooks: gen_mod's
   * `start_modules` (40) and `stop_modules` (70), around the session manager's (50, 60).
   */
  hostHookSeq: Object.freeze({ up: 40, down: 70 }),
});
