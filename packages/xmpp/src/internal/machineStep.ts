import type { MaybePromise } from '@otp-chat/actor';
import { type AnyActorScope, createActor, type transition } from 'xstate';
import {
  type C2SActionEvent,
  type C2SActionName,
  type C2SEvent,
  type C2SInput,
  c2sMachine,
  langTooLong,
} from '../c2sMachine.ts';

/** A snapshot of the c2s machine. */
export type C2SSnapshot = ReturnType<typeof transition<typeof c2sMachine>>[0];

/**
 * An action to execute: its name and params. The event that caused it is the event given to
 * {@link step} (every action of one step has the same cause), so cached steps can be shared.
 */
export interface C2SAction {
  readonly type: C2SActionName;
  readonly params: unknown;
}

/**
 * What executes the machine's actions: one handler per action of the machine, each given the
 * event the action runs on. Typed against every {@link C2SActionName}, so an action without a
 * handler (or a handler without an action) does not compile.
 */
export type C2SActionHandlers<Target> = {
  readonly [A in C2SActionName]: (target: Target, event: C2SActionEvent<A>) => MaybePromise<void>;
};

/** Runs `action` with its handler. */
export function runAction<Target>(
  handlers: C2SActionHandlers<Target>,
  target: Target,
  action: C2SAction,
  event: C2SEvent,
): MaybePromise<void> {
  // The machine runs an action only on the events C2SActionEvents lists for it
  // (test/c2sActions.test.ts): the event is the one the handler is typed for.
  const handler = handlers[action.type] as (target: Target, event: C2SEvent) => MaybePromise<void>;
  return handler(target, event);
}

type Result = readonly [C2SSnapshot, readonly C2SAction[]];

let collected: C2SAction[] = [];
let scope: AnyActorScope | undefined;

/**
 * xstate's pure `transition()` builds an inert actor and an actor system on every call. The c2s
 * machine has no invoked or spawned children, so one inert scope is shared by every connection:
 * same semantics (actions are collected, not executed).
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
        const a = action as { type: C2SActionName; params?: unknown };
        collected.push(Object.freeze({ type: a.type, params: a.params }));
      },
    };
  }
  return scope;
}

const STREAMS_NS = 'http://etherx.jabber.org/streams';

/**
 * What of `event` the machine reads (guards and assigns), as a string, or `undefined` when the
 * payload is unbounded (an arbitrary host, an error text, an exit reason): such steps are not
 * memoised, so the cache stays finite. Must list every payload field the machine looks at; the
 * property test in `test/machineStep.test.ts` compares memoised stepping with `transition()`.
 */
function eventKey(snapshot: C2SSnapshot, event: C2SEvent): string | undefined {
  switch (event.type) {
    case 'STREAM_HEADER': {
      const a = event.header.attrs;
      const to = String(a.to ?? '').toLowerCase();
      if (!snapshot.context.hosts.includes(to)) return undefined;
      if (a.xmlns !== 'jabber:client' || a['xmlns:stream'] !== STREAMS_NS || a.version !== '1.0')
        return undefined;
      if (langTooLong(event.header)) return undefined;
      return `STREAM_HEADER|${to}`;
    }
    case 'CONTROL':
      return event.message.type === 'exit' ? undefined : `CONTROL|${event.message.type}`;
    case 'STREAM_ERROR':
      return undefined;
    default:
      // AUTH, SASL_*, BIND, BOUND, BIND_FAILED, STANZA, ROUTE, STREAM_END, SOCKET_CLOSED, TIMEOUT:
      // the machine reads none of their payload.
      return event.type;
  }
}

const memo = new WeakMap<C2SSnapshot, Map<string, Result>>();

/** `initialTransition(c2sMachine, input)` on the shared scope. */
export function initialStep(input: C2SInput): [C2SSnapshot, C2SAction[]] {
  const actions: C2SAction[] = [];
  collected = actions;
  const snapshot = c2sMachine.getInitialSnapshot(inertScope(), input) as C2SSnapshot;
  return [snapshot, actions];
}

function compute(snapshot: C2SSnapshot, event: C2SEvent): Result {
  const actions: C2SAction[] = [];
  collected = actions;
  const next = c2sMachine.transition(snapshot, event, inertScope()) as C2SSnapshot;
  return [next, actions];
}

/**
 * `transition(c2sMachine, snapshot, event)`, memoised per (snapshot, what the machine reads of
 * the event). Snapshots are immutable, and connections of one server start from one shared
 * initial snapshot, so a login walks snapshots that earlier logins already computed and costs a
 * few map lookups instead of xstate transitions.
 */
export function step(snapshot: C2SSnapshot, event: C2SEvent): Result {
  const key = eventKey(snapshot, event);
  if (key === undefined) return compute(snapshot, event);
  let bySnapshot = memo.get(snapshot);
  if (bySnapshot === undefined) {
    bySnapshot = new Map();
    memo.set(snapshot, bySnapshot);
  }
  let result = bySnapshot.get(key);
  if (result === undefined) {
    result = compute(snapshot, event);
    bySnapshot.set(key, result);
  }
  return result;
}
