/**
 * The errors of `@otp-chat/session-manager`. Each has a literal `name`, structured fields and an
 * optional `cause`.
 */

/** Base of every session-manager error. */
export abstract class SessionManagerError extends Error {
  abstract override readonly name: string;
}

/** A backend call failed (thrown or rejected). */
export class BackendError extends SessionManagerError {
  override readonly name = 'BackendError' as const;
  constructor(
    readonly backend: string,
    readonly operation: string,
    options: { readonly cause?: unknown } = {},
  ) {
    super(`session backend ${backend} failed in ${operation}`, options);
  }
}

/**
 * A backend's store could not be reached: the connection is down or reconnecting, or it closed
 * while the operation was in flight. Backends fail fast with this error rather than queue
 * silently, so every backend (Redis, SQL, ...) reports an outage with the same type. Whether a write
 * that failed so is retried later is the backend's business (`@otp-chat/redis-backend` replays it
 * once Redis is back), which is why `openSession` deletes a refused row after a failed write.
 */
export class BackendUnavailableError extends SessionManagerError {
  override readonly name = 'BackendUnavailableError' as const;
  constructor(
    /** The backend's name (`'redis'`). */
    readonly backend: string,
    /** The operation that failed: `setSession`, `deleteSession`, `getSessions`, `cleanNode`, `init`. */
    readonly operation: string,
    options: { readonly cause?: unknown } = {},
  ) {
    super(`session backend ${backend} is unavailable (${operation})`, options);
  }
}

/**
 * A backend call did not answer within the session manager's `backendTimeoutMs` (a frozen or
 * overloaded store). The call's outcome is unknown: a write may still be applied later.
 */
export class BackendTimeoutError extends SessionManagerError {
  override readonly name = 'BackendTimeoutError' as const;
  constructor(
    /** The backend's name (`'redis'`). */
    readonly backend: string,
    /** The operation that timed out: `setSession`, `deleteSession`, `getSessions`, `cleanNode`. */
    readonly operation: string,
    readonly timeoutMs: number,
    options: { readonly cause?: unknown } = {},
  ) {
    super(`session backend ${backend} did not answer ${operation} within ${timeoutMs} ms`, options);
  }
}

/** A backend failed to start: the session manager's start fails with it. */
export class BackendInitError extends SessionManagerError {
  override readonly name = 'BackendInitError' as const;
  constructor(
    readonly backend: string,
    options: { readonly cause?: unknown } = {},
  ) {
    super(`session backend ${backend} failed to start`, options);
  }
}

/** No backend is configured for this virtual host. */
export class UnknownHostError extends SessionManagerError {
  override readonly name = 'UnknownHostError' as const;
  constructor(readonly host: string) {
    super(`no session backend for virtual host ${host}`);
  }
}

/**
 * Thrown by an IQ handler that cannot decode its query: the session manager answers `bad-request`
 * with this message (`gen_iq_handler:process_iq/3` on `{xmpp_codec, Why}`).
 */
export class IqDecodeError extends SessionManagerError {
  override readonly name = 'IqDecodeError' as const;
  constructor(
    readonly ns: string,
    message: string,
    options: { readonly cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

/** The session manager is not running (not started yet, or stopped). */
export class NotStartedError extends SessionManagerError {
  override readonly name = 'NotStartedError' as const;
  constructor() {
    super('the session manager is not running');
  }
}

/**
 * No session for the full JID a command names (mod_admin_extra's `set_presence`: `{error, "User
 * session not found"}`).
 */
export class SessionNotFoundError extends SessionManagerError {
  override readonly name = 'SessionNotFoundError' as const;
  constructor(
    readonly user: string,
    readonly host: string,
    readonly resource: string,
  ) {
    super('User session not found');
  }
}
