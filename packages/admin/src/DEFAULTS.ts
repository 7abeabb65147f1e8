/** Defaults of `@otp-chat/admin`. */
export const DEFAULTS = {
  /** Loopback only: the admin surface is never exposed by default (ejabberd's `mod_http_api` listener is configured per ip). */
  host: '127.0.0.1',
  /** ejabberd's conventional admin HTTP port. */
  port: 5281,
  /** The environment variable the CLI and the chat server read the token from. */
  tokenEnv: 'OTP_CHAT_ADMIN_TOKEN',
  /** The environment variable naming a file that holds the token (the CLI's second choice). */
  tokenFileEnv: 'OTP_CHAT_ADMIN_TOKEN_FILE',
  /** The environment variable with the admin API's base URL (the CLI's default). */
  urlEnv: 'OTP_CHAT_ADMIN_URL',
  /** Largest JSON body accepted by `POST /api/<command>`, in bytes. */
  bodyLimitBytes: 64 * 1024,
  /** Longest one command may run before the API answers 504. */
  commandTimeoutMs: 10_000,
  /** Longest a readiness check may take before it counts as failed. */
  readinessTimeoutMs: 2_000,
  /** How often the observer pushes a new snapshot over SSE. */
  observerIntervalMs: 1_000,
  /** At most this many observer SSE streams at once (each holds a timer and a socket). */
  maxObserverStreams: 16,
  /** The observer lists at most this many processes and sessions (the longest mailboxes, the first sessions). */
  observerRows: 200,
  /** Longest the CLI waits for the node's answer. */
  cliTimeoutMs: 15_000,
} as const;
