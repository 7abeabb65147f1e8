/** The stream error conditions (RFC 6120 §4.9.3) a C2S connection sends. */
export type StreamErrorCondition =
  | 'bad-format'
  | 'conflict'
  | 'connection-timeout'
  | 'host-unknown'
  | 'internal-server-error'
  | 'invalid-namespace'
  | 'invalid-xml'
  | 'not-authorized'
  | 'not-well-formed'
  | 'policy-violation'
  | 'reset'
  | 'restricted-xml'
  | 'resource-constraint'
  | 'system-shutdown'
  | 'undefined-condition'
  | 'unsupported-stanza-type'
  | 'unsupported-version';

/** Base class of the errors `@otp-chat/xmpp` throws. */
export abstract class XmppError extends Error {
  abstract override readonly name: string;
}

/**
 * A stream-level error: the connection sends `<stream:error>` with `condition` (and `text`) and
 * closes. Raised by the framing parser and the c2s protocol checks.
 */
export class StreamError extends XmppError {
  readonly name = 'StreamError';
  constructor(
    readonly condition: StreamErrorCondition,
    readonly text?: string,
    options?: { readonly cause?: unknown },
  ) {
    super(text === undefined ? condition : `${condition}: ${text}`, options);
  }
}

/** `register` (or the user store) refused to create an account. */
export class RegisterError extends XmppError {
  readonly name = 'RegisterError';
  constructor(
    readonly reason: 'exists' | 'invalid-user' | 'invalid-password',
    readonly user: string,
    readonly server: string,
    options?: { readonly cause?: unknown },
  ) {
    super(`cannot register ${user}@${server}: ${reason}`, options);
  }
}

/** An invalid server option (port, domain, maxUserSessions…). */
export class XmppConfigError extends XmppError {
  readonly name = 'XmppConfigError';
  constructor(
    readonly option: string,
    readonly value: unknown,
    message: string,
  ) {
    super(`invalid option ${option}=${JSON.stringify(value)}: ${message}`);
  }
}

/** A module store call failed or did not answer in time (`ModuleStore`). */
export class ModuleStoreError extends XmppError {
  readonly name = 'ModuleStoreError';
  constructor(
    readonly store: string,
    readonly operation: string,
    readonly reason: 'timeout' | 'failed',
    options?: { readonly cause?: unknown },
  ) {
    super(`module store ${store}: ${operation} ${reason === 'timeout' ? 'timed out' : 'failed'}`, options);
  }
}
