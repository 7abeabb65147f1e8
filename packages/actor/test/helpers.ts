import type {
  ActorContext,
  ActorRef,
  ActorSystem,
  ExitReason,
  GenServer,
  SimulatedClock,
} from '../src/index.ts';

import { flush, testSystem as makeTestSystem } from '../src/testing/index.ts';

export { flush };

/** A system on a simulated clock with logging off. */
export function testSystem(): { system: ActorSystem; clock: SimulatedClock } {
  return makeTestSystem('test@local');
}

export type ProbeCall =
  | { readonly type: 'link'; readonly to: ActorRef }
  | { readonly type: 'monitor'; readonly to: ActorRef }
  | { readonly type: 'trap'; readonly flag: boolean }
  | { readonly type: 'inbox' };

/**
 * An actor that records every info message it gets and does what a test asks (link, monitor,
 * trap exits), so tests observe the runtime from inside an actor as OTP code would.
 */
export function probe(
  options: { trapExit?: boolean; terminated?: ExitReason[] } = {},
): GenServer<unknown[], undefined, ProbeCall, unknown, never, unknown> {
  return {
    init(_args: undefined, ctx: ActorContext) {
      if (options.trapExit) ctx.trapExit(true);
      return { ok: [] };
    },
    handleCall(request, _from, inbox, ctx) {
      switch (request.type) {
        case 'link':
          ctx.link(request.to);
          return { reply: 'ok', state: inbox };
        case 'monitor':
          return { reply: ctx.monitor(request.to), state: inbox };
        case 'trap':
          return { reply: ctx.trapExit(request.flag), state: inbox };
        case 'inbox':
          return { reply: [...inbox], state: inbox };
      }
    },
    handleInfo(message, inbox) {
      inbox.push(message);
      return { noreply: true, state: inbox };
    },
    terminate(reason) {
      options.terminated?.push(reason);
    },
  };
}
