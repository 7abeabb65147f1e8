import type { ActorRef, ActorSystem, ExitReason, GenServer, SimulatedClock } from '@otp-chat/actor';
import { flush, testSystem as makeTestSystem } from '@otp-chat/actor/testing';
import { Supervisor, type SupervisorEvent } from '../src/index.ts';

export { flush };

/** A system on a simulated clock with logging off. */
export function testSystem(): { system: ActorSystem; clock: SimulatedClock } {
  return makeTestSystem('sup@test');
}

export type WorkerCall = 'ping' | 'args';
export type WorkerCast = { readonly stop: ExitReason } | { readonly throw: string } | 'hang';

export interface WorkerOptions {
  /** Trap exits, so a supervisor shutdown runs `terminate`. */
  readonly trapExit?: boolean;
  /** `terminate` calls: [args, reason]. */
  readonly terminated?: Array<[unknown, ExitReason]>;
  /** `terminate` never settles (a stuck shutdown). */
  readonly hangInTerminate?: boolean;
  /** `init` returns this instead of `{ ok }`. */
  readonly initResult?: (args: unknown) => 'ignore' | { stop: ExitReason } | undefined;
  /** Called on each `init` with the args. */
  readonly started?: unknown[];
}

/**
 * A worker whose crashes and exits a test decides: cast `{ stop: reason }` ends it with `reason`
 * (as a callback returning `{ stop }`), `{ throw }` crashes it, `'hang'` holds its mailbox for ever.
 */
export function testWorker(
  options: WorkerOptions = {},
): GenServer<unknown, unknown, WorkerCall, unknown, WorkerCast> {
  return {
    init(args, ctx) {
      options.started?.push(args);
      if (options.trapExit) ctx.trapExit(true);
      const r = options.initResult?.(args);
      if (r !== undefined) return r;
      return { ok: args };
    },
    handleCall(request, _from, state) {
      return { reply: request === 'ping' ? 'pong' : state, state };
    },
    handleCast(message, state) {
      if (message === 'hang') return new Promise(() => {});
      if ('throw' in message) throw new Error(message.throw);
      return { stop: message.stop, state };
    },
    terminate(reason, state) {
      options.terminated?.push([state, reason]);
      if (options.hangInTerminate) return new Promise<void>(() => {});
    },
  };
}

/** Collects supervisor events; `types()` gives their types, `of(type)` filters. */
export function eventLog(): {
  readonly events: SupervisorEvent[];
  readonly onEvent: (e: SupervisorEvent) => void;
  types(): string[];
  of<T extends SupervisorEvent['type']>(type: T): Array<Extract<SupervisorEvent, { type: T }>>;
} {
  const events: SupervisorEvent[] = [];
  return {
    events,
    onEvent: (e) => events.push(e),
    types: () => events.map((e) => e.type),
    of: <T extends SupervisorEvent['type']>(type: T) =>
      events.filter((e): e is Extract<SupervisorEvent, { type: T }> => e.type === type),
  };
}

/** The ref from an `{ ok: ref }` start result, or a failed assertion. */
export function okRef(result: unknown): ActorRef {
  if (result !== null && typeof result === 'object' && 'ok' in result && result.ok !== undefined) {
    return (result as { ok: ActorRef }).ok;
  }
  throw new Error(`expected { ok: ref }, got ${JSON.stringify(result)}`);
}

/**
 * `whichChildren` in start order (the order the specs are written in): OTP lists children newest
 * first, so this is its rows reversed. For tests that pick a child by its place in the spec list.
 */
export async function childrenInStartOrder(
  system: ActorSystem,
  sup: ActorRef,
): Promise<Awaited<ReturnType<typeof Supervisor.whichChildren>>> {
  return (await Supervisor.whichChildren(system, sup)).reverse();
}
