import {
  type ActorContext,
  type ActorRef,
  type ExitReason,
  type From,
  formatReason,
  type GenServer,
  isActorRef,
  isCleanExit,
  isExitMessage,
  type Logger,
  moduleLogger,
  type NoReplyResult,
  type StartResult,
  silentLogger,
  type TimerHandle,
} from '@otp-chat/actor';
import { type ChildSpec, type ChildType, checkChildSpec, type NormalizedChildSpec } from '../ChildSpec.ts';
import type { SupervisorEvent, SupervisorListener } from '../SupervisorEvent.ts';
import type { NormalizedSupervisorSpec } from '../SupervisorSpec.ts';
import { isExpectedShutdown, type ShutdownOutcome, shutdownChild, shutdownChildren } from './shutdown.ts';

// ---- public shapes of the management replies (re-exported by Supervisor.ts) ---------------------

/** `start_child` reply: `{ ok: ref }`, `{ ok: undefined }` when the start returned `ignore`, or an error. */
export type StartChildResult =
  | { readonly ok: ActorRef | undefined }
  | {
      readonly error:
        | 'already_present'
        | { readonly alreadyStarted: ActorRef }
        | { readonly startFailed: unknown };
    };

/** `restart_child` reply. */
export type RestartChildResult =
  | { readonly ok: ActorRef | undefined }
  | {
      readonly error:
        | 'running'
        | 'restarting'
        | 'not_found'
        | 'simple_one_for_one'
        | { readonly startFailed: unknown };
    };

/** `terminate_child` reply. */
export type TerminateChildResult = 'ok' | { readonly error: 'not_found' | 'simple_one_for_one' };

/** `delete_child` reply. */
export type DeleteChildResult =
  | 'ok'
  | { readonly error: 'running' | 'restarting' | 'not_found' | 'simple_one_for_one' };

/** One row of `which_children`: `ref` is the child, `'restarting'`, or `undefined` (not running). */
export interface ChildInfo {
  /** `undefined` for the children of a `simple_one_for_one` supervisor, as in OTP. */
  readonly id: string | undefined;
  readonly ref: ActorRef | 'restarting' | undefined;
  readonly type: ChildType;
}

/** `count_children` reply. */
export interface ChildCounts {
  readonly specs: number;
  readonly active: number;
  readonly supervisors: number;
  readonly workers: number;
}

/** The reason a supervisor's start fails with when a child does not start (OTP's `{shutdown, {failed_to_start_child, Id, R}}`). */
export interface FailedToStartChild {
  readonly failedToStartChild: string;
  readonly reason: unknown;
}

export type SupervisorRequest =
  | { readonly type: 'start_child'; readonly arg: unknown }
  | { readonly type: 'terminate_child'; readonly id: string | ActorRef }
  | { readonly type: 'restart_child'; readonly id: string }
  | { readonly type: 'delete_child'; readonly id: string }
  | { readonly type: 'get_child_spec'; readonly id: string }
  | { readonly type: 'which_children' }
  | { readonly type: 'count_children' }
  | { readonly type: 'add_listener'; readonly listener: SupervisorListener }
  | { readonly type: 'remove_listener'; readonly listener: SupervisorListener };

type Cast = { readonly type: '$try_again_restart'; readonly key: string | number };
type Info = { readonly type: '$delayed_restart'; readonly key: string | number };

// ---- state ---------------------------------------------------------------------------------------

interface StaticChild {
  readonly spec: NormalizedChildSpec;
  ref: ActorRef | undefined;
  /** OTP's `{restarting, OldPid}`: a restart attempt failed or is delayed. */
  restarting: boolean;
  /** The ref the child had before it ended (for `child_restarted`). */
  previous: ActorRef | undefined;
}

interface DynamicChild {
  ref: ActorRef;
  /** Start arguments; not kept for temporary children (OTP saves memory the same way). */
  readonly extra: unknown;
  restarting: boolean;
}

export interface SupervisorState {
  readonly spec: NormalizedSupervisorSpec;
  /** Static children in start order. */
  children: StaticChild[];
  /** simple_one_for_one children by ref id (a restarting one stays under its old ref id). */
  readonly dynamic: Map<number, DynamicChild>;
  dynamicRestarting: number;
  /** Restart times in whole seconds, oldest first from `restartsHead` (OTP's `restarts`). */
  readonly restarts: number[];
  restartsHead: number;
  readonly listeners: Set<SupervisorListener>;
  readonly timers: Set<TimerHandle>;
}

type Started = { readonly ok: ActorRef | undefined } | { readonly error: unknown };
type Outcome = 'ok' | 'shutdown';

// ---- the behaviour -------------------------------------------------------------------------------

/** The supervisor as a gen_server (OTP's `supervisor` module). Internal: use `Supervisor.start`. */
export const supervisorServer: GenServer<
  SupervisorState,
  NormalizedSupervisorSpec,
  SupervisorRequest,
  unknown,
  Cast,
  Info
> = {
  async init(spec, ctx) {
    ctx.trapExit(true);
    const state: SupervisorState = {
      spec,
      children: spec.children.map((s) => ({
        spec: s,
        ref: undefined,
        restarting: false,
        previous: undefined,
      })),
      dynamic: new Map(),
      dynamicRestarting: 0,
      restarts: [],
      restartsHead: 0,
      listeners: new Set(),
      timers: new Set(),
    };
    if (spec.strategy === 'simple_one_for_one') return { ok: state };
    const failed = await startChildren(state, ctx, state.children, 'init');
    if (failed === undefined) return { ok: state };
    await terminateChildren(state, ctx, state.children);
    const reason: FailedToStartChild = { failedToStartChild: failed.id, reason: failed.reason };
    return { stop: { shutdown: reason } };
  },

  async handleCall(request, _from: From<unknown>, state, ctx) {
    return { reply: await handleRequest(request, state, ctx), state };
  },

  async handleCast(message, state, ctx) {
    if (message.type !== '$try_again_restart') return { noreply: true, state };
    const child = findRestarting(state, message.key);
    if (child === undefined) return { noreply: true, state };
    return result(await restart(state, ctx, child), state);
  },

  async handleInfo(message, state, ctx): Promise<NoReplyResult<SupervisorState>> {
    if (isExitMessage(message)) {
      if (message.from === undefined) return { noreply: true, state };
      return result(await childExited(state, ctx, message.from, message.reason), state);
    }
    if ((message as Partial<Info>).type === '$delayed_restart') {
      const child = findRestarting(state, (message as Info).key);
      if (child === undefined) return { noreply: true, state };
      return result(await performRestart(state, ctx, child), state);
    }
    logOf(ctx).error(
      { supervisor: ctx.self.toString(), name: state.spec.label, message: String(message) },
      'supervisor received unexpected message',
    );
    return { noreply: true, state };
  },

  async terminate(reason, state, ctx) {
    emit(state, ctx, { type: 'supervisor_shutdown', reason });
    for (const timer of state.timers) ctx.system.clock.clearTimeout(timer);
    state.timers.clear();
    if (state.spec.strategy === 'simple_one_for_one') await terminateDynamic(state, ctx);
    else await terminateChildren(state, ctx, state.children);
  },
};

function result(outcome: Outcome, state: SupervisorState): NoReplyResult<SupervisorState> {
  return outcome === 'shutdown' ? { stop: 'shutdown', state } : { noreply: true, state };
}

// ---- events --------------------------------------------------------------------------------------

type EventBody = SupervisorEvent extends infer E
  ? E extends SupervisorEvent
    ? Omit<E, 'supervisor' | 'supervisorName'>
    : never
  : never;

function emit(state: SupervisorState, ctx: ActorContext, body: EventBody): void {
  // `body` is a fresh literal at every call site: complete it in place rather than copy it.
  const event = body as { supervisor?: ActorRef; supervisorName?: string | undefined };
  event.supervisor = ctx.self;
  event.supervisorName = state.spec.label;
  if (ctx.logger !== silentLogger) log(ctx, event as SupervisorEvent);
  const onEvent = state.spec.onEvent;
  if (onEvent !== undefined) deliver(ctx, onEvent, event as SupervisorEvent);
  for (const listener of state.listeners) deliver(ctx, listener, event as SupervisorEvent);
}

function deliver(ctx: ActorContext, listener: SupervisorListener, event: SupervisorEvent): void {
  try {
    listener(event);
  } catch (error) {
    logOf(ctx).error({ err: error, event: event.type }, 'supervisor event listener threw');
  }
}

/** The supervisor's records: the actor's logger with `module: 'supervisor'`. */
function logOf(ctx: ActorContext): Logger {
  return moduleLogger(ctx.logger, 'supervisor');
}

function log(ctx: ActorContext, event: SupervisorEvent): void {
  const base = { supervisor: event.supervisor.toString(), name: event.supervisorName, event: event.type };
  switch (event.type) {
    case 'child_started':
      logOf(ctx).debug({ ...base, id: event.id, ref: event.ref.toString() }, 'child started');
      return;
    case 'child_terminated': {
      const fields = { ...base, id: event.id, reason: formatReason(event.reason), action: event.action };
      // OTP reports only abnormal exits (a supervisor_report); a clean one is routine, e.g. every
      // closed connection under a simple_one_for_one supervisor.
      if (isCleanExit(event.reason)) logOf(ctx).debug(fields, 'child terminated');
      else logOf(ctx).error(fields, 'child terminated');
      return;
    }
    case 'child_restarted':
      logOf(ctx).warn(
        { ...base, id: event.id, ref: event.ref.toString(), restartsInWindow: event.restartsInWindow },
        'child restarted',
      );
      return;
    case 'child_start_failed':
      logOf(ctx).error(
        { ...base, id: event.id, reason: describe(event.reason), during: event.during },
        'child start failed',
      );
      return;
    case 'child_shutdown_error':
      logOf(ctx).error({ ...base, id: event.id, reason: formatReason(event.reason) }, 'child shutdown error');
      return;
    case 'child_stopped':
      logOf(ctx).debug({ ...base, id: event.id, killed: event.killed }, 'child stopped');
      return;
    case 'intensity_exceeded':
      logOf(ctx).error(
        { ...base, id: event.id, restarts: event.restarts, intensity: event.intensity, period: event.period },
        'reached max restart intensity',
      );
      return;
    case 'restart_delayed':
      logOf(ctx).warn({ ...base, id: event.id, delayMs: event.delayMs }, 'restart delayed (backoff)');
      return;
    case 'auto_shutdown':
      logOf(ctx).info({ ...base, id: event.id }, 'significant child ended: auto shutdown');
      return;
    case 'supervisor_shutdown':
      logOf(ctx).info({ ...base, reason: formatReason(event.reason) }, 'supervisor shutting down');
      return;
  }
}

function describe(value: unknown): string {
  if (value !== null && typeof value === 'object') {
    const v = value as { error?: unknown };
    if ('error' in v && v.error instanceof Error) return `{error: ${v.error.name}: ${v.error.message}}`;
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

// ---- starting ------------------------------------------------------------------------------------

/** `do_start_child_i`: runs a start function; a throw or an odd return is `{ error }`. */
async function doStart(spec: NormalizedChildSpec, extra: unknown, ctx: ActorContext): Promise<Started> {
  let r: StartResult;
  try {
    r = await spec.start(ctx, extra);
  } catch (error) {
    return { error: { error } };
  }
  if (r === 'ignore') return { ok: undefined };
  if (r !== null && typeof r === 'object') {
    if ('ok' in r && isActorRef(r.ok)) return { ok: r.ok };
    if ('error' in r) return { error: r.error };
  }
  return { error: { exit: r } };
}

/**
 * Starts `list` in order (`start_children/2`). Returns the first failure, leaving later children
 * unstarted; temporary children whose start returned `ignore` are removed.
 */
async function startChildren(
  state: SupervisorState,
  ctx: ActorContext,
  list: readonly StaticChild[],
  during: 'init' | 'restart',
): Promise<{ id: string; reason: unknown } | undefined> {
  for (const child of list) {
    const started = await doStart(child.spec, undefined, ctx);
    if ('error' in started) {
      emit(state, ctx, { type: 'child_start_failed', id: child.spec.id, reason: started.error, during });
      return { id: child.spec.id, reason: started.error };
    }
    child.ref = started.ok;
    child.restarting = false;
    if (started.ok === undefined) {
      if (child.spec.restart === 'temporary') removeStatic(state, child);
      continue;
    }
    emit(state, ctx, { type: 'child_started', id: child.spec.id, ref: started.ok });
    if (during === 'restart') {
      emit(state, ctx, {
        type: 'child_restarted',
        id: child.spec.id,
        ref: started.ok,
        previous: child.previous,
        restartsInWindow: restartCount(state),
      });
    }
  }
  return undefined;
}

// ---- stopping ------------------------------------------------------------------------------------

/** Stops one running child and reports the outcome (`do_terminate/2`). */
async function terminateOne(
  state: SupervisorState,
  ctx: ActorContext,
  id: string,
  ref: ActorRef,
  spec: NormalizedChildSpec,
): Promise<void> {
  report(state, ctx, id, ref, spec, await shutdownChild(ctx, ref, spec));
}

function report(
  state: SupervisorState,
  ctx: ActorContext,
  id: string,
  ref: ActorRef,
  spec: NormalizedChildSpec,
  outcome: ShutdownOutcome,
): void {
  emit(state, ctx, { type: 'child_stopped', id, ref, reason: outcome.reason, killed: outcome.killed });
  if (!isExpectedShutdown(spec, outcome)) {
    emit(state, ctx, { type: 'child_shutdown_error', id, ref, reason: outcome.reason });
  }
}

/**
 * `terminate_children/2`: stops `list` in reverse start order, each by its shutdown spec;
 * temporary children are forgotten, the others keep their spec with no ref.
 */
async function terminateChildren(
  state: SupervisorState,
  ctx: ActorContext,
  list: readonly StaticChild[],
): Promise<void> {
  for (let i = list.length - 1; i >= 0; i--) {
    const child = list[i]!;
    if (child.ref !== undefined) {
      child.previous = child.ref;
      await terminateOne(state, ctx, child.spec.id, child.ref, child.spec);
    }
    child.ref = undefined;
    child.restarting = false;
    if (child.spec.restart === 'temporary') removeStatic(state, child);
  }
}

/** `terminate_dynamic_children/1`: all at once, in no defined order, under one timer. */
async function terminateDynamic(state: SupervisorState, ctx: ActorContext): Promise<void> {
  const template = state.spec.children[0]!;
  const refs: ActorRef[] = [];
  for (const child of state.dynamic.values()) if (!child.restarting) refs.push(child.ref);
  state.dynamic.clear();
  state.dynamicRestarting = 0;
  const outcomes = await shutdownChildren(ctx, refs, template);
  // One event per child would flood a 100k pool; report the unexpected ones and a count.
  let killed = 0;
  for (let i = 0; i < refs.length; i++) {
    const outcome = outcomes[i]!;
    if (outcome.killed) killed++;
    if (!isExpectedShutdown(template, outcome)) {
      emit(state, ctx, {
        type: 'child_shutdown_error',
        id: template.id,
        ref: refs[i]!,
        reason: outcome.reason,
      });
    }
  }
  logOf(ctx).debug(
    { supervisor: ctx.self.toString(), name: state.spec.label, stopped: refs.length, killed },
    'dynamic children stopped',
  );
}

function removeStatic(state: SupervisorState, child: StaticChild): void {
  const i = state.children.indexOf(child);
  if (i >= 0) state.children.splice(i, 1);
}

// ---- exits and restarts --------------------------------------------------------------------------

type Restartable =
  | { readonly kind: 'static'; readonly child: StaticChild }
  | { readonly kind: 'dynamic'; readonly key: number; readonly child: DynamicChild };

function findRestarting(state: SupervisorState, key: string | number): Restartable | undefined {
  if (typeof key === 'number') {
    const child = state.dynamic.get(key);
    return child?.restarting ? { kind: 'dynamic', key, child } : undefined;
  }
  const child = state.children.find((c) => c.spec.id === key);
  return child?.restarting ? { kind: 'static', child } : undefined;
}

/** `restart_child/3` + `do_restart/3`: a child's EXIT arrived. */
async function childExited(
  state: SupervisorState,
  ctx: ActorContext,
  from: ActorRef,
  reason: ExitReason,
): Promise<Outcome> {
  let target: Restartable | undefined;
  if (state.spec.strategy === 'simple_one_for_one') {
    const child = state.dynamic.get(from.id);
    if (child !== undefined && !child.restarting && child.ref.equals(from)) {
      target = { kind: 'dynamic', key: from.id, child };
    }
  } else {
    const child = state.children.find((c) => c.ref?.equals(from) === true);
    if (child !== undefined) target = { kind: 'static', child };
  }
  if (target === undefined) return 'ok'; // not (or no longer) a child: a stale EXIT
  const spec = specOf(state, target);
  const restartIt = spec.restart === 'permanent' || (spec.restart === 'transient' && !isCleanExit(reason));
  emit(state, ctx, {
    type: 'child_terminated',
    id: spec.id,
    ref: from,
    reason,
    action: restartIt
      ? 'restart'
      : spec.restart === 'temporary' || target.kind === 'dynamic'
        ? 'remove'
        : 'keep',
  });
  if (restartIt) return restart(state, ctx, target);
  delChild(state, target);
  return autoShutdown(state, ctx, spec);
}

function specOf(state: SupervisorState, target: Restartable): NormalizedChildSpec {
  return target.kind === 'static' ? target.child.spec : state.spec.children[0]!;
}

/** `del_child/2`: a temporary child is forgotten, any other keeps its spec with no ref. */
function delChild(state: SupervisorState, target: Restartable): void {
  if (target.kind === 'dynamic') {
    if (target.child.restarting) state.dynamicRestarting--;
    state.dynamic.delete(target.key);
    return;
  }
  const child = target.child;
  child.previous = child.ref;
  child.ref = undefined;
  child.restarting = false;
  if (child.spec.restart === 'temporary') removeStatic(state, child);
}

/** `do_auto_shutdown/2`. */
function autoShutdown(state: SupervisorState, ctx: ActorContext, spec: NormalizedChildSpec): Outcome {
  const mode = state.spec.autoShutdown;
  if (mode === 'never' || !spec.significant) return 'ok';
  if (mode === 'all_significant') {
    const anyLeft =
      state.spec.strategy === 'simple_one_for_one'
        ? state.dynamic.size > 0
        : // OTP counts `{restarting, OldPid}` as a pid: a significant child whose restart is
          // pending (a failed attempt, or a backoff delay) is still active.
          state.children.some((c) => (c.ref !== undefined || c.restarting) && c.spec.significant);
    if (anyLeft) return 'ok';
  }
  emit(state, ctx, { type: 'auto_shutdown', id: spec.id });
  return 'shutdown';
}

/**
 * `add_restart/1`: OTP's algorithm. Times are whole seconds of the clock; restarts older than
 * `now - period` fall out (the window is inclusive); more than `intensity` left means terminate.
 * OTP keeps a newest-first list and `takewhile`s it; as the clock is monotonic, dropping from the
 * oldest end of an ascending queue is the same thing, in amortised O(1) per restart.
 */
function addRestart(state: SupervisorState, ctx: ActorContext): boolean {
  const now = Math.floor(ctx.system.clock.now() / 1000);
  const threshold = now - state.spec.period;
  const times = state.restarts;
  times.push(now);
  while (times[state.restartsHead]! < threshold) state.restartsHead++;
  if (state.restartsHead > 1024 && state.restartsHead * 2 > times.length) {
    times.splice(0, state.restartsHead);
    state.restartsHead = 0;
  }
  return restartCount(state) <= state.spec.intensity;
}

/** Restarts in the current window (OTP's `length(Restarts)`). */
function restartCount(state: SupervisorState): number {
  return state.restarts.length - state.restartsHead;
}

/** `restart/2`: count the restart, then restart by strategy (or escalate). */
async function restart(state: SupervisorState, ctx: ActorContext, target: Restartable): Promise<Outcome> {
  const spec = specOf(state, target);
  if (!addRestart(state, ctx)) {
    emit(state, ctx, {
      type: 'intensity_exceeded',
      id: spec.id,
      restarts: restartCount(state),
      intensity: state.spec.intensity,
      period: state.spec.period,
    });
    delChild(state, target);
    return 'shutdown';
  }
  const backoff = state.spec.backoff;
  if (backoff !== undefined) {
    markRestarting(state, target);
    const n = restartCount(state);
    const delayMs = Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** (n - 1));
    emit(state, ctx, { type: 'restart_delayed', id: spec.id, delayMs });
    const key = target.kind === 'static' ? target.child.spec.id : target.key;
    const clock = ctx.system.clock;
    const self = ctx.self;
    const system = ctx.system;
    const timer = clock.setTimeout(() => {
      state.timers.delete(timer);
      system.send(self, { type: '$delayed_restart', key } satisfies Info);
    }, delayMs);
    state.timers.add(timer);
    return 'ok';
  }
  return performRestart(state, ctx, target);
}

function markRestarting(state: SupervisorState, target: Restartable): void {
  if (target.child.restarting) return;
  if (target.kind === 'dynamic') state.dynamicRestarting++;
  else {
    target.child.previous = target.child.ref ?? target.child.previous;
    target.child.ref = undefined;
  }
  target.child.restarting = true;
}

/** `restart/3` by strategy; a failed start marks the child restarting and casts `try_again_restart`. */
async function performRestart(
  state: SupervisorState,
  ctx: ActorContext,
  target: Restartable,
): Promise<Outcome> {
  if (target.kind === 'dynamic') return restartDynamic(state, ctx, target.key, target.child);
  const child = target.child;
  if (!child.restarting) {
    child.previous = child.ref ?? child.previous;
    child.ref = undefined;
  }
  let list: StaticChild[];
  switch (state.spec.strategy) {
    case 'one_for_all':
      list = state.children;
      break;
    case 'rest_for_one':
      list = state.children.slice(state.children.indexOf(child));
      break;
    default:
      list = [child];
  }
  if (list.length > 1) {
    const others = list.filter((c) => c !== child);
    await terminateChildren(state, ctx, others);
    // terminateChildren removed temporary siblings from state.children; keep the same order.
    list = list.filter((c) => c === child || state.children.includes(c));
  }
  const failed = await startChildren(state, ctx, list, 'restart');
  if (failed === undefined) return 'ok';
  const failedChild = state.children.find((c) => c.spec.id === failed.id);
  if (failedChild !== undefined) {
    failedChild.restarting = true;
    failedChild.ref = undefined;
    ctx.cast(ctx.self, { type: '$try_again_restart', key: failed.id } satisfies Cast);
  }
  return 'ok';
}

async function restartDynamic(
  state: SupervisorState,
  ctx: ActorContext,
  key: number,
  child: DynamicChild,
): Promise<Outcome> {
  const template = state.spec.children[0]!;
  const started = await doStart(template, child.extra, ctx);
  if ('error' in started) {
    emit(state, ctx, {
      type: 'child_start_failed',
      id: template.id,
      reason: started.error,
      during: 'restart',
    });
    if (!child.restarting) {
      child.restarting = true;
      state.dynamicRestarting++;
    }
    ctx.cast(ctx.self, { type: '$try_again_restart', key } satisfies Cast);
    return 'ok';
  }
  if (child.restarting) state.dynamicRestarting--;
  state.dynamic.delete(key);
  if (started.ok === undefined) return 'ok';
  state.dynamic.set(started.ok.id, { ref: started.ok, extra: child.extra, restarting: false });
  emit(state, ctx, { type: 'child_started', id: template.id, ref: started.ok });
  emit(state, ctx, {
    type: 'child_restarted',
    id: template.id,
    ref: started.ok,
    previous: child.ref,
    restartsInWindow: restartCount(state),
  });
  return 'ok';
}

// ---- management API ------------------------------------------------------------------------------

async function handleRequest(
  request: SupervisorRequest,
  state: SupervisorState,
  ctx: ActorContext,
): Promise<unknown> {
  const simple = state.spec.strategy === 'simple_one_for_one';
  switch (request.type) {
    case 'start_child':
      return simple ? startDynamicChild(state, ctx, request.arg) : startStaticChild(state, ctx, request.arg);
    case 'terminate_child':
      return terminateChild(state, ctx, request.id);
    case 'restart_child': {
      if (simple) return { error: 'simple_one_for_one' } satisfies RestartChildResult;
      const child = state.children.find((c) => c.spec.id === request.id);
      if (child === undefined) return { error: 'not_found' } satisfies RestartChildResult;
      if (child.restarting) return { error: 'restarting' } satisfies RestartChildResult;
      if (child.ref !== undefined) return { error: 'running' } satisfies RestartChildResult;
      const started = await doStart(child.spec, undefined, ctx);
      if ('error' in started) {
        emit(state, ctx, {
          type: 'child_start_failed',
          id: child.spec.id,
          reason: started.error,
          during: 'restart_child',
        });
        return { error: { startFailed: started.error } } satisfies RestartChildResult;
      }
      child.ref = started.ok;
      if (started.ok !== undefined)
        emit(state, ctx, { type: 'child_started', id: child.spec.id, ref: started.ok });
      return { ok: started.ok } satisfies RestartChildResult;
    }
    case 'delete_child': {
      if (simple) return { error: 'simple_one_for_one' } satisfies DeleteChildResult;
      const child = state.children.find((c) => c.spec.id === request.id);
      if (child === undefined) return { error: 'not_found' } satisfies DeleteChildResult;
      if (child.restarting) return { error: 'restarting' } satisfies DeleteChildResult;
      if (child.ref !== undefined) return { error: 'running' } satisfies DeleteChildResult;
      removeStatic(state, child);
      return 'ok' satisfies DeleteChildResult;
    }
    case 'get_child_spec': {
      const child = state.children.find((c) => c.spec.id === request.id);
      return child === undefined ? { error: 'not_found' } : { ok: child.spec };
    }
    case 'which_children': {
      if (simple) {
        const type = state.spec.children[0]!.type;
        const rows: ChildInfo[] = [];
        for (const c of state.dynamic.values()) {
          rows.push({ id: undefined, ref: c.restarting ? 'restarting' : c.ref, type });
        }
        return rows;
      }
      // Newest first, as OTP: supervisor.erl keeps ids in termination order (reverse start
      // order, a child added by start_child in front) and which_children/1 walks that list.
      const rows: ChildInfo[] = [];
      for (let i = state.children.length - 1; i >= 0; i--) {
        const c = state.children[i]!;
        rows.push({ id: c.spec.id, ref: c.restarting ? 'restarting' : c.ref, type: c.spec.type });
      }
      return rows;
    }
    case 'count_children':
      return countChildren(state, ctx);
    case 'add_listener':
      state.listeners.add(request.listener);
      return 'ok';
    case 'remove_listener':
      state.listeners.delete(request.listener);
      return 'ok';
  }
}

async function startDynamicChild(
  state: SupervisorState,
  ctx: ActorContext,
  extra: unknown,
): Promise<StartChildResult> {
  const template = state.spec.children[0]!;
  const started = await doStart(template, extra, ctx);
  if ('error' in started) {
    emit(state, ctx, {
      type: 'child_start_failed',
      id: template.id,
      reason: started.error,
      during: 'start_child',
    });
    return { error: { startFailed: started.error } };
  }
  if (started.ok === undefined) return { ok: undefined };
  state.dynamic.set(started.ok.id, {
    ref: started.ok,
    extra: template.restart === 'temporary' ? undefined : extra,
    restarting: false,
  });
  emit(state, ctx, { type: 'child_started', id: template.id, ref: started.ok });
  return { ok: started.ok };
}

async function startStaticChild(
  state: SupervisorState,
  ctx: ActorContext,
  arg: unknown,
): Promise<StartChildResult | { readonly invalid: unknown }> {
  let spec: NormalizedChildSpec;
  try {
    spec = checkChildSpec(arg as ChildSpec, state.spec.autoShutdown);
  } catch (error) {
    return { invalid: error };
  }
  const existing = state.children.find((c) => c.spec.id === spec.id);
  if (existing !== undefined) {
    return existing.ref !== undefined
      ? { error: { alreadyStarted: existing.ref } }
      : { error: 'already_present' };
  }
  const started = await doStart(spec, undefined, ctx);
  if ('error' in started) {
    emit(state, ctx, {
      type: 'child_start_failed',
      id: spec.id,
      reason: started.error,
      during: 'start_child',
    });
    const e = started.error as { alreadyStarted?: unknown };
    if (e !== null && typeof e === 'object' && isActorRef(e.alreadyStarted)) {
      return { error: { alreadyStarted: e.alreadyStarted } };
    }
    return { error: { startFailed: started.error } };
  }
  if (started.ok === undefined && spec.restart === 'temporary') return { ok: undefined };
  state.children.push({ spec, ref: started.ok, restarting: false, previous: undefined });
  if (started.ok !== undefined) emit(state, ctx, { type: 'child_started', id: spec.id, ref: started.ok });
  return { ok: started.ok };
}

async function terminateChild(
  state: SupervisorState,
  ctx: ActorContext,
  id: string | ActorRef,
): Promise<TerminateChildResult> {
  if (state.spec.strategy === 'simple_one_for_one') {
    if (!isActorRef(id)) return { error: 'simple_one_for_one' };
    const child = state.dynamic.get(id.id);
    if (child === undefined || !child.ref.equals(id)) {
      // OTP: a pid that is not a child but is dead counts as already terminated.
      return ctx.system.isAlive(id) ? { error: 'not_found' } : 'ok';
    }
    const template = state.spec.children[0]!;
    if (!child.restarting) await terminateOne(state, ctx, template.id, child.ref, template);
    delChild(state, { kind: 'dynamic', key: id.id, child });
    return 'ok';
  }
  if (isActorRef(id)) return { error: 'not_found' };
  const child = state.children.find((c) => c.spec.id === id);
  if (child === undefined) return { error: 'not_found' };
  if (child.ref !== undefined) await terminateOne(state, ctx, id, child.ref, child.spec);
  delChild(state, { kind: 'static', child });
  return 'ok';
}

function countChildren(state: SupervisorState, ctx: ActorContext): ChildCounts {
  if (state.spec.strategy === 'simple_one_for_one') {
    const size = state.dynamic.size;
    const supervisor = state.spec.children[0]!.type === 'supervisor';
    return {
      specs: 1,
      active: size - state.dynamicRestarting,
      supervisors: supervisor ? size : 0,
      workers: supervisor ? 0 : size,
    };
  }
  let active = 0;
  let supervisors = 0;
  for (const c of state.children) {
    if (c.ref !== undefined && ctx.system.isAlive(c.ref)) active++;
    if (c.spec.type === 'supervisor') supervisors++;
  }
  return { specs: state.children.length, active, supervisors, workers: state.children.length - supervisors };
}
