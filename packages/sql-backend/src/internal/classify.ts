// How a driver failure maps to the backend's errors: "cannot reach the database now" (retry
// later, replay the write) versus "the database said no" (a bug or a bad value; do not retry).

/** The `postgres` driver's codes for a connection that failed, closed or was ended. */
const CONNECTION_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);

/** The SQLSTATE of a PostgreSQL error, else the driver's or the system's code, else `undefined`. */
export function sqlStateOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * True when `error` means the database cannot be used right now: a connection error (refused,
 * reset, closed, timed out), or a server error of class 08 (connection exception), 53 (insufficient
 * resources: too many connections, out of memory or disk), 57P01–57P05 (shut down, crashed,
 * starting up, idle session killed) or 57014 (statement cancelled, as the timeout does).
 */
export function isUnavailableError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: unknown; code?: unknown; severity?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (e.name === 'PostgresError') {
    return code.startsWith('08') || code.startsWith('53') || code.startsWith('57P') || code === '57014';
  }
  if (CONNECTION_CODES.has(code)) return true;
  // Node's system errors: ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE, ENOTFOUND, EHOSTUNREACH, …
  return /^E[A-Z]+$/.test(code);
}
