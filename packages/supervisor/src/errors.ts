/** Base class of every error `@otp-chat/supervisor` throws or rejects with. */
export abstract class SupervisorError extends Error {
  abstract override readonly name: string;
}

/**
 * A child spec is invalid (OTP's `{invalid_child_spec, …}` family from `check_childspec`):
 * `field` names the offending field, `value` is what it held, `childId` the spec's id if readable.
 */
export class InvalidChildSpecError extends SupervisorError {
  readonly name = 'InvalidChildSpecError';
  constructor(
    readonly field: 'id' | 'start' | 'restart' | 'shutdown' | 'type' | 'significant' | 'spec',
    readonly value: unknown,
    readonly childId: string | undefined,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      `invalid child spec${childId === undefined ? '' : ` ${JSON.stringify(childId)}`}: ${field}: ${detail}`,
      options,
    );
  }
}

/**
 * The supervisor flags are invalid (OTP's `{invalid_strategy, _}`, `{invalid_intensity, _}`,
 * `{invalid_period, _}`, `{invalid_auto_shutdown, _}`, `{bad_start_spec, _}`); `field` names the flag.
 */
export class InvalidSupervisorFlagsError extends SupervisorError {
  readonly name = 'InvalidSupervisorFlagsError';
  constructor(
    readonly field: 'strategy' | 'intensity' | 'period' | 'autoShutdown' | 'children' | 'backoff',
    readonly value: unknown,
    detail: string,
  ) {
    super(`invalid supervisor flags: ${field}: ${detail}`);
  }
}

/** `Application.start` failed: the root supervisor did not start (`reason` is its start error). */
export class ApplicationStartError extends SupervisorError {
  readonly name = 'ApplicationStartError';
  constructor(
    readonly reason: unknown,
    options?: { cause?: unknown },
  ) {
    super(`application failed to start: ${describe(reason)}`, options);
  }
}

function describe(value: unknown): string {
  try {
    return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
}
