import { SessionManagerError } from '@otp-chat/session-manager';

/**
 * The errors of `@otp-chat/sql-backend`. Each has a literal `name`, structured fields and an
 * optional `cause`.
 */

/**
 * PostgreSQL could not be reached: the connection is down, it closed while the statement was in
 * flight, the server is starting up or recovering, it refused more connections, or the statement
 * did not answer within `queryTimeoutMs`. The class is `@otp-chat/session-manager`'s, shared by
 * every backend; it is re-exported here under the same name, so `instanceof` checks keep working.
 * A session write that failed this way is replayed by `SqlBackend` once the database is back.
 */
export { BackendUnavailableError } from '@otp-chat/session-manager';

/**
 * PostgreSQL answered a statement with an error (a constraint, a permission, a syntax error, a
 * value it cannot store), or the driver refused the statement. `code` is the SQLSTATE when there
 * is one (`23505` unique violation, `42501` insufficient privilege, …).
 */
export class SqlCommandError extends SessionManagerError {
  override readonly name = 'SqlCommandError' as const;
  constructor(
    /** The client's or backend's name (`'sql'`). */
    readonly backend: string,
    /** The operation that failed (`setSession`, `migrate`, `checkPassword`, …). */
    readonly operation: string,
    /** The SQLSTATE, or the driver's error code, when known. */
    readonly code: string | undefined,
    options: { readonly cause?: unknown } = {},
  ) {
    super(`${backend}: ${operation} failed${code === undefined ? '' : ` (${code})`}`, options);
  }
}

/** A statement did not answer within `queryTimeoutMs`; the cause of a `BackendUnavailableError`. */
export class SqlTimeoutError extends SessionManagerError {
  override readonly name = 'SqlTimeoutError' as const;
  constructor(
    readonly operation: string,
    readonly timeoutMs: number,
  ) {
    super(`${operation} did not answer within ${timeoutMs} ms`);
  }
}

/**
 * The database's schema for a component (`sm`, `users`) is at a version this code does not know:
 * a newer otp-chat migrated it. Nothing is changed; upgrade this node (or point it elsewhere).
 */
export class SchemaTooNewError extends SessionManagerError {
  override readonly name = 'SchemaTooNewError' as const;
  constructor(
    readonly schema: string,
    readonly component: string,
    /** The version recorded in the database. */
    readonly found: number,
    /** The newest version this code knows. */
    readonly known: number,
  ) {
    super(
      `the ${component} tables in schema ${schema} are at version ${found}, newer than this code knows (${known}); upgrade otp-chat`,
    );
  }
}

/**
 * The database cannot hold what the backend stores byte for byte: its encoding is not UTF-8 (so
 * a resource in another script would be mangled or refused).
 */
export class DatabaseEncodingError extends SessionManagerError {
  override readonly name = 'DatabaseEncodingError' as const;
  constructor(readonly encoding: string) {
    super(`the database encoding is ${encoding}; otp-chat needs UTF8 (createdb -E UTF8)`);
  }
}

/**
 * A value cannot be stored as it is: a string with a NUL character or an unpaired surrogate, which
 * PostgreSQL's `text` cannot hold byte-exact (a prepared JID part never contains either).
 */
export class SqlValueError extends SessionManagerError {
  override readonly name = 'SqlValueError' as const;
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`cannot store ${field}: ${reason}`);
  }
}

/** A stored row could not be decoded. Such a row is skipped and logged, never a crash. */
export class SqlRowDecodeError extends SessionManagerError {
  override readonly name = 'SqlRowDecodeError' as const;
  constructor(
    /** The row's `pid` column (at most 200 characters). */
    readonly pid: string,
    reason: string,
    options: { readonly cause?: unknown } = {},
  ) {
    super(`cannot decode sm row ${pid}: ${reason}`, options);
  }
}
