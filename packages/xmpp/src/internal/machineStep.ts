import { type AnyActorScope, createActor, type transition } from 'xstate';
import { type C2SEvent, type C2SInput, c2sMachine } from '../c2sMachine.ts';

/** A snapshot of the c2s machine. */
export type C2SSnapshot = ReturnType<typeof transition<typeof c2sMachine>>[0];
/** An action `transition()` returns (type, params, info.event), for the connection to execute. */
export type C2SAction = ReturnType<typeof transition<typeof c2sMachine>>[1][number];

let collected: C2SAction[] = [];
let scope: AnyActorScope | undefined;

/**
 * xstate's pure `transition()` builds an inert actor and an actor system on every call (about
 * 50–100 µs). The c2s machine has no invoked or spawned children, so one inert scope can be shared
 * by every connection: same semantics (actions are collected, not executed), a fraction of the
 * cost. `test/machineStep.test.ts` checks it against `transition()` on random event sequences.
 */
function inertScope(): AnyActorScope {
  if (scope === undefined) {
    const self = createActor(c2sMachine, { input: { hosts: [], maxAuthFailures: 1 } });
    scope = {
      self,
      id: '',
      sessionId: '',
      logger: () => {},
      defer: () => {},
      emit: () => {},
      system: self.system,
      stopChild: () => {},
      actionExecutor: (action) => {
        collected.push(action as C2SAction);
      },
    };
  }
  return scope;
}

/** `initialTransition(c2sMachine, input)` on the shared scope. */
export function initialStep(input: C2SInput): [C2SSnapshot, C2SAction[]] {
  const actions: C2SAction[] = [];
  collected = actions;
  const snapshot = c2sMachine.getInitialSnapshot(inertScope(), input) as C2SSnapshot;
  return [snapshot, actions];
}

/** `transition(c2sMachine, snapshot, event)` on the shared scope. */
export function step(snapshot: C2SSnapshot, event: C2SEvent): [C2SSnapshot, C2SAction[]] {
  const actions: C2SAction[] = [];
  collected = actions;
  const next = c2sMachine.transition(snapshot, event, inertScope()) as C2SSnapshot;
  return [next, actions];
}
