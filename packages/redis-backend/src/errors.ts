import { SessionManagerError } from '@otp-chat/session-manager';

/**
 * The errors of `@otp-chat/redis-backend`. Each has a literal `name`, structured fields and an
 * optional `cause`.
 */

/**
 * Redis could not be reached: the connection is down or reconnecting, or it closed while the
 * command was in flight. Commands fail fast with this error (no silent offline queue). A write that
 * failed this way is retried by the backend once Redis is back (see `RedisBackend.pendingWrites`).
 *
 * The class is `@otp-chat/session-manager`'s, shared by every backend; it is re-exported here
 * under the same name, so `import { BackendUnavailableError } from '@otp-chat/redis-backend'` and
 * `instanceof` checks keep working.
 */
export { BackendTimeoutError, BackendUnavailableError } from '@otp-chat/session-manager';

/** Redis answered a command with an error reply (`WRONGTYPE`, `OOM`, `EXECABORT`, a script error). */
export class RedisCommandError extends SessionManagerError {
  override readonly name = 'RedisCommandError' as const;
  constructor(
    readonly backend: string,
    readonly operation: string,
    options: { readonly cause?: unknown } = {},
  ) {
    super(`session backend ${backend} failed in ${operation}`, options);
  }
}

/** A stored value could not be decoded. Such a value is skipped and logged, never a crash. */
export class SessionDecodeError extends SessionManagerError {
  override readonly name = 'SessionDecodeError' as const;
  constructor(
    /** The start of the value (at most 200 characters). */
    readonly value: string,
    reason: string,
    options: { readonly cause?: unknown } = {},
  ) {
    super(`cannot decode session value: ${reason}`, options);
  }
}

/**
 * The Redis server is older than the backend supports (`MIN_REDIS_VERSION`): `init` refuses it, as
 * ejabberd's `ejabberd_sm_redis` refuses a Redis older than its `MIN_REDIS_VERSION` ("Unsupported
 * Redis version"), instead of failing later in the node clean-up script.
 */
export class UnsupportedRedisVersionError extends SessionManagerError {
  override readonly name = 'UnsupportedRedisVersionError' as const;
  constructor(
    readonly backend: string,
    /** The server's `redis_version`. */
    readonly version: string,
    /** The oldest version supported. */
    readonly minimum: string,
  ) {
    super(
      `Redis ${version} is too old for the session backend ${backend}: it needs Redis ${minimum} or later ` +
        '(its node clean-up script writes after HSCAN, which needs redis.replicate_commands())',
    );
  }
}
