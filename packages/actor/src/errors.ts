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

/**
 * A message for another node has a part no codec can encode (a function, a `Map`, an instance of a
 * class without a registered codec, a cycle). Thrown at the sender, by `send`, `cast` and `call`
 * (which rejects), so that nothing is dropped silently. `path` locates the value (`$.stanza.x`).
 */
export class UnencodableMessageError extends ActorError {
  readonly name = 'UnencodableMessageError';
  constructor(
    readonly path: string,
    readonly kind: string,
    options?: { readonly cause?: unknown },
  ) {
    super(`cannot send ${kind} at ${path} to another node: register a codec for it`, options);
  }
}

/** A message from another node could not be decoded (no codec for its tag, or malformed). */
export class MessageDecodeError extends ActorError {
  readonly name = 'MessageDecodeError';
  constructor(
    readonly path: string,
    readonly detail: string,
    options?: { readonly cause?: unknown },
  ) {
    super(`cannot decode a message from another node at ${path}: ${detail}`, options);
  }
}

/** Two different codecs for one wire tag or one class. */
export class CodecConflictError extends ActorError {
  readonly name = 'CodecConflictError';
  constructor(
    readonly tag: string,
    readonly conflict: 'tag' | 'type',
  ) {
    super(`codec ${tag}: another codec is registered for this ${conflict}`);
  }
}

/**
 * An `Error` that crossed nodes (in an exit reason or a message): its original `name` and
 * `message`; the stack stays on the node that threw it.
 */
export class RemoteError extends ActorError {
  readonly name = 'RemoteError';
  constructor(
    readonly originalName: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The target's node is not connected (`noconnection`): a `call` to a node known to be down fails
 * with it at once, and a `call` waiting when its node goes down fails with it (`gen_server:call`
 * exits with `{nodedown, Node}`).
 */
export class NoConnectionError extends ActorError {
  readonly name = 'NoConnectionError';
  readonly reason = 'noconnection' as const;
  constructor(readonly target: ActorRef) {
    super(`no connection to ${target.node} (calling ${target.toString()})`);
  }
}

/** The distribution was used in a way it does not allow (a second carrier attached, say). */
export class DistributionError extends ActorError {
  readonly name = 'DistributionError';
  constructor(
    readonly node: string,
    readonly detail: string,
  ) {
    super(`distribution of ${node}: ${detail}`);
  }
}
