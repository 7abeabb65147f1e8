import type { ActorRef, ExitReason } from '@otp-chat/actor';
import type { Caller } from './Caller.ts';

/**
 * Typed observability events, one payload object per event. Extend it by module augmentation:
 *
 * ```ts
 * declare module '@otp-chat/event-bus' {
 *   interface EventMap { iq_handler_failed: { readonly ns: string; readonly error: unknown } }
 * }
 * ```
 */
export interface EventMap {
  /** An actor stopped with a reason other than `normal` / `shutdown`. */
  actor_crashed: { readonly actor: ActorRef; readonly name?: string; readonly reason: ExitReason };
  /** A supervisor restarted a child. */
  child_restarted: {
    readonly supervisor: ActorRef;
    readonly childId: string;
    readonly reason: ExitReason;
    readonly restarts: number;
  };
  /** A supervisor failed to start (or restart) a child. */
  child_start_failed: { readonly supervisor: ActorRef; readonly childId: string; readonly error: unknown };
  /** A supervisor exceeded its restart intensity and is shutting down. */
  intensity_exceeded: {
    readonly supervisor: ActorRef;
    readonly intensity: number;
    readonly periodMs: number;
  };
  /** The session manager opened a session (after `sm_register_connection_hook`). */
  session_opened: {
    readonly sid: unknown;
    readonly user: string;
    readonly host: string;
    readonly resource: string;
  };
  /** The session manager closed a session (after `sm_remove_connection_hook`). */
  session_closed: {
    readonly sid: unknown;
    readonly user: string;
    readonly host: string;
    readonly resource: string;
    readonly reason?: unknown;
  };
  /** A session backend call failed. */
  backend_error: {
    readonly backend: string;
    readonly operation: string;
    readonly host?: string;
    readonly error: unknown;
  };
  /** A hook handler threw or rejected; it was skipped (ejabberd_hooks' `safe_apply`). */
  hook_handler_failed: {
    readonly hook: string;
    readonly host: string;
    readonly seq: number;
    readonly handler: Function;
    readonly handlerName: string;
    readonly error: unknown;
  };
  /** `Commands.execute` finished a command (successfully or not). */
  command_executed: {
    readonly command: string;
    readonly version: number;
    readonly caller: Caller;
    readonly ok: boolean;
    readonly error?: unknown;
  };
}

/** The name of an event of the (augmented) map. */
export type EventName = keyof EventMap & string;
