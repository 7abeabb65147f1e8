import type { ActorContext, ActorRef, ActorSystem, ServerRef, StartResult } from '@otp-chat/actor';
import type { ChildSpec, NormalizedChildSpec, RestartType, ShutdownSpec } from './ChildSpec.ts';
import { InvalidChildSpecError } from './errors.ts';
import {
  type ChildCounts,
  type ChildInfo,
  type DeleteChildResult,
  type RestartChildResult,
  type StartChildResult,
  type SupervisorRequest,
  supervisorServer,
  type TerminateChildResult,
} from './internal/SupervisorServer.ts';
import type { SupervisorListener } from './SupervisorEvent.ts';
import { checkSupervisorSpec, type SupervisorSpec } from './SupervisorSpec.ts';

export type {
  ChildCounts,
  ChildInfo,
  DeleteChildResult,
  FailedToStartChild,
  RestartChildResult,
  StartChildResult,
  TerminateChildResult,
} from './internal/SupervisorServer.ts';

/** Whatever can make a `call`: an `ActorSystem` (from outside) or an `ActorContext` (from an actor). */
export interface Caller {
  call<Reply = unknown>(target: ServerRef, request: unknown, timeoutMs?: number): Promise<Reply>;
}

/** Where a supervisor is started from: the system (a root) or an actor's context (linked to it). */
export type Starter = ActorSystem | ActorContext;

// Management calls use no timeout, as OTP's `gen_server:call(Sup, Req, infinity)`.
function request<R>(caller: Caller, sup: ServerRef, req: SupervisorRequest): Promise<R> {
  return caller.call<R>(sup, req, Number.POSITIVE_INFINITY);
}

function isContext(starter: Starter): starter is ActorContext {
  return 'self' in starter;
}

/**
 * OTP supervision: a supervisor is a GenServer actor that traps exits, starts its children in
 * order, links them, restarts them by its strategy within its restart intensity, and stops them
 * in reverse order. Mirrors OTP's `supervisor` module; every function below names its OTP
 * counterpart.
 *
 * @example
 * ```ts
 * const system = new ActorSystem();
 * const started = await Supervisor.start(system, {
 *   strategy: 'one_for_one',
 *   children: [worker('counter', counterServer, 0)],
 * });
 * if (typeof started === 'object' && 'ok' in started) {
 *   await Supervisor.whichChildren(system, started.ok);
 * }
 * ```
 */
export const Supervisor = {
  /**
   * Starts a supervisor and resolves once every child has started (`supervisor:start_link/2,3`).
   * From an `ActorContext` it is linked to that actor (its parent); from an `ActorSystem` it is a
   * root. Resolves `{ error: { shutdown: { failedToStartChild, reason } } }` when a child fails to
   * start (the started ones are stopped first). Throws `InvalidChildSpecError` or
   * `InvalidSupervisorFlagsError` for an invalid spec.
   */
  start(starter: Starter, spec: SupervisorSpec): Promise<StartResult> {
    const normalized = checkSupervisorSpec(spec);
    const options = {
      trapExit: true,
      ...(normalized.name === undefined ? {} : { name: normalized.name }),
    };
    return isContext(starter)
      ? starter.start(supervisorServer, normalized, { ...options, link: true })
      : starter.start(supervisorServer, normalized, options);
  },

  /**
   * `supervisor:start_child/2`. A `ChildSpec` for a static supervisor; the extra arguments
   * handed to the template's `start` for a `simple_one_for_one` one. Rejects with
   * `InvalidChildSpecError` for an invalid spec.
   */
  async startChild(
    caller: Caller,
    sup: ServerRef,
    specOrExtraArgs: ChildSpec | unknown,
  ): Promise<StartChildResult> {
    const reply = await request<StartChildResult | { invalid: unknown }>(caller, sup, {
      type: 'start_child',
      arg: specOrExtraArgs,
    });
    if ('invalid' in reply) throw reply.invalid;
    return reply;
  },

  /**
   * `supervisor:terminate_child/2`: stops the child by its shutdown spec and keeps its spec
   * (a temporary child's spec is dropped). For `simple_one_for_one`, pass the child's ref.
   */
  terminateChild(caller: Caller, sup: ServerRef, idOrRef: string | ActorRef): Promise<TerminateChildResult> {
    return request(caller, sup, { type: 'terminate_child', id: idOrRef });
  },

  /** `supervisor:restart_child/2`: starts a stopped child again from its spec. */
  restartChild(caller: Caller, sup: ServerRef, id: string): Promise<RestartChildResult> {
    return request(caller, sup, { type: 'restart_child', id });
  },

  /** `supervisor:delete_child/2`: forgets the spec of a stopped child. */
  deleteChild(caller: Caller, sup: ServerRef, id: string): Promise<DeleteChildResult> {
    return request(caller, sup, { type: 'delete_child', id });
  },

  /** `supervisor:get_childspec/2`. */
  getChildSpec(
    caller: Caller,
    sup: ServerRef,
    id: string,
  ): Promise<{ readonly ok: NormalizedChildSpec } | { readonly error: 'not_found' }> {
    return request(caller, sup, { type: 'get_child_spec', id });
  },

  /**
   * `supervisor:which_children/1`, in OTP's order: newest first (the reverse of the spec list,
   * children added with `startChild` in front; a restarted child keeps its place). A
   * `simple_one_for_one` supervisor lists its children in start order, a restarted child last (OTP
   * folds over a map of pids: pid order, which is start order, up to 32 children; hash order beyond,
   * which is no order a caller can use).
   */
  whichChildren(caller: Caller, sup: ServerRef): Promise<ChildInfo[]> {
    return request(caller, sup, { type: 'which_children' });
  },

  /** `supervisor:count_children/1`. */
  countChildren(caller: Caller, sup: ServerRef): Promise<ChildCounts> {
    return request(caller, sup, { type: 'count_children' });
  },

  /**
   * Adds an event listener to a running supervisor (the spec's `onEvent` is the static one);
   * resolves with a function that removes it.
   */
  async addListener(
    caller: Caller,
    sup: ServerRef,
    listener: SupervisorListener,
  ): Promise<() => Promise<void>> {
    await request(caller, sup, { type: 'add_listener', listener });
    return async () => {
      await request(caller, sup, { type: 'remove_listener', listener });
    };
  },
} as const;

/** Options of {@link supervisor}: the child spec fields of a supervisor child. */
export interface SupervisorChildOptions {
  /** @default 'permanent' */
  readonly restart?: RestartType;
  /** @default 'infinity' (OTP's default for supervisors) */
  readonly shutdown?: ShutdownSpec;
  /** @default false */
  readonly significant?: boolean;
}

/**
 * A child spec for a nested supervisor in one line (`type: 'supervisor'`, `shutdown: 'infinity'`).
 * The nested spec is checked now: throws `InvalidChildSpecError` / `InvalidSupervisorFlagsError`.
 *
 * @example
 * ```ts
 * const pool = supervisor('pool', { strategy: 'simple_one_for_one', children: [template] });
 * ```
 */
export function supervisor(
  id: string,
  spec: SupervisorSpec,
  options: SupervisorChildOptions = {},
): ChildSpec {
  try {
    checkSupervisorSpec(spec);
  } catch (error) {
    if (error instanceof InvalidChildSpecError) throw error;
    throw new InvalidChildSpecError(
      'start',
      spec,
      id,
      `nested supervisor spec: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return {
    id,
    type: 'supervisor',
    start: (ctx) => Supervisor.start(ctx, spec),
    ...(options.restart === undefined ? {} : { restart: options.restart }),
    ...(options.shutdown === undefined ? {} : { shutdown: options.shutdown }),
    ...(options.significant === undefined ? {} : { significant: options.significant }),
  };
}
