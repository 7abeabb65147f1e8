import {
  type Actor,
  type AnyStateMachine,
  createActor,
  type EventFromLogic,
  type InputFrom,
  type SnapshotFrom,
} from 'xstate';
import type { ActorContext } from './ActorContext.ts';
import type { GenServer } from './GenServer.ts';
import { moduleLogger } from './Logger.ts';

/** The gen_server state of a machine actor: the running xstate actor. */
export type MachineState<M extends AnyStateMachine> = Actor<M>;

/** Ask a machine actor for its snapshot without sending it an event. */
export interface GetSnapshot {
  readonly type: '$otp.getSnapshot';
}

const ERROR = '$otp.machineError';

/**
 * Runs an xstate v5 machine as a gen_server (the otp-chat counterpart of `gen_statem`).
 *
 * - `cast` and `send` deliver events to the machine; `call(ref, event)` sends the event and replies
 *   with the snapshot after it (`call(ref, { type: '$otp.getSnapshot' })` only reads it).
 * - A machine error (a throwing action or guard, a failed invoked actor without `onError`) crashes
 *   the actor with `{ error }`, so its supervisor restarts it: xstate has no restarts of its own.
 * - Reaching a final state stops the actor with `normal`.
 * - However the actor ends (including `kill`, which skips `terminate`), the xstate actor is
 *   stopped, so no delayed transition or invoked actor outlives it.
 * - Delayed transitions use the system's `Clock`, so a `SimulatedClock` drives them in tests.
 *
 * @example
 * ```ts
 * const ref = await system.spawn(fromMachine(c2sMachine), { socket });
 * system.cast(ref, { type: 'STREAM_START' });
 * ```
 */
export function fromMachine<M extends AnyStateMachine>(
  machine: M,
): GenServer<
  MachineState<M>,
  InputFrom<M>,
  EventFromLogic<M> | GetSnapshot,
  SnapshotFrom<M>,
  EventFromLogic<M>,
  EventFromLogic<M>
> {
  const afterEvent = (actor: MachineState<M>) => {
    const snapshot = actor.getSnapshot() as { status: string; error?: unknown };
    if (snapshot.status === 'error') throw snapshot.error;
    if (snapshot.status === 'done') return { stop: 'normal' as const, state: actor };
    return { noreply: true as const, state: actor };
  };
  return {
    init(input, ctx: ActorContext) {
      const clock = ctx.system.clock;
      const actor = createActor(machine, {
        input,
        clock: {
          setTimeout: (fn: (...args: unknown[]) => void, ms: number) => clock.setTimeout(fn, ms),
          clearTimeout: (handle: unknown) => clock.clearTimeout(handle),
        },
      } as never) as MachineState<M>;
      // Errors raised outside a send (delayed transitions, invoked actors) reach us here.
      actor.subscribe({ error: (error: unknown) => ctx.send(ctx.self, { type: ERROR, error }) });
      actor.start();
      // However this actor ends (a kill or an untrapped exit signal skip `terminate`), the xstate
      // actor goes with it: its delayed transitions and invoked actors must not outlive the process.
      void ctx.system.whenExit(ctx.self).then(() => {
        try {
          actor.stop();
        } catch (error) {
          moduleLogger(ctx.logger, 'actor').error(
            { actor: ctx.self.toString(), err: error },
            'machine stop threw',
          );
        }
      });
      const snapshot = actor.getSnapshot() as { status: string; error?: unknown };
      if (snapshot.status === 'error') return { stop: { error: snapshot.error } };
      return { ok: actor };
    },
    handleCast(event, actor) {
      actor.send(event);
      return afterEvent(actor);
    },
    handleCall(event, _from, actor) {
      if ((event as { type?: string }).type !== '$otp.getSnapshot') actor.send(event as EventFromLogic<M>);
      const result = afterEvent(actor);
      const reply = actor.getSnapshot() as SnapshotFrom<M>;
      return 'stop' in result ? { stop: result.stop, reply, state: actor } : { reply, state: actor };
    },
    handleInfo(event, actor) {
      const e = event as { type?: string; error?: unknown };
      if (e.type === ERROR) throw e.error;
      actor.send(event as EventFromLogic<M>);
      return afterEvent(actor);
    },
    terminate(_reason, actor) {
      actor.stop();
    },
  };
}
