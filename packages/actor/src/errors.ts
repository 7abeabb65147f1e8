import type { ActorRef } from './ActorRef.ts';
import { type ExitReason, formatReason } from './ExitReason.ts';

/** Base class of every error the actor runtime throws or rejects with. */
export abstract class ActorError extends Error {
  abstract override readonly name: string;
}

/** `call` got no reply within its timeout (gen_server's `{timeout, {gen_server, call, …}}`). */
export class CallTimeoutError extends ActorError {
  readonly name = 'CallTimeoutError';
  constructor(
    readonly target: ActorRef,
    readonly timeoutMs: number,
  ) {
    super(`call to ${target.toString()} timed out after ${timeoutMs} ms`);
  }
}

/** The target does not exist: it was never started, already ended, or the name is not registered. */
export class NoProcError extends ActorError {
  readonly name = 'NoProcError';
  readonly reason = 'noproc' as const;
  constructor(readonly target: ActorRef | string | undefined) {
    super(`no process: ${target === undefined ? 'undefined' : String(target)}`);
  }
}

/** The server ended while a `call` was waiting for its reply; `reason` is its exit reason. */
export class ExitError extends ActorError {
  readonly name = 'ExitError';
  constructor(
    readonly target: ActorRef,
    readonly reason: ExitReason,
  ) {
    super(`${target.toString()} exited during call: ${formatReason(reason)}`, {
      cause: typeof reason === 'object' && 'error' in reason ? reason.error : undefined,
    });
  }
}

/** An actor called itself, which would deadlock (gen_server's `calling_self`). */
export class CallingSelfError extends ActorError {
  readonly name = 'CallingSelfError';
  constructor(readonly target: ActorRef) {
    super(`${target.toString()} called itself`);
  }
}

/** A name is already registered (`{error, {already_started, Pid}}`). */
export class AlreadyStartedError extends ActorError {
  readonly name = 'AlreadyStartedError';
  constructor(
    readonly registeredName: string,
    readonly existing: ActorRef,
  ) {
    super(`name ${registeredName} is already registered to ${existing.toString()}`);
  }
}

/** `spawn` failed: `init` returned `{ stop }`, threw, or returned `ignore`. */
export class StartError extends ActorError {
  readonly name = 'StartError';
  constructor(readonly reason: ExitReason | 'ignore' | { readonly alreadyStarted: ActorRef }) {
    super(
      `actor failed to start: ${
        typeof reason === 'object' && 'alreadyStarted' in reason
          ? `already_started ${reason.alreadyStarted.toString()}`
          : reason === 'ignore'
            ? 'ignore'
            : formatReason(reason)
      }`,
      { cause: typeof reason === 'object' && 'error' in reason ? reason.error : undefined },
    );
  }
}

/** A behaviour callback returned something that is not one of the documented result shapes. */
export class BadReturnError extends ActorError {
  readonly name = 'BadReturnError';
  constructor(
    readonly callback: string,
    readonly value: unknown,
  ) {
    super(`${callback} returned an invalid result: ${String(value)}`);
  }
}
