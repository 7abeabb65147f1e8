import {
  type ActorContext,
  type ActorRef,
  type ExitReason,
  type GenServer,
  isCleanExit,
  moduleLogger,
} from '@otp-chat/actor';
import { type ChildSpec, Supervisor, worker } from '@otp-chat/supervisor';
import type { Backend, BackendInitContext } from '../Backend.ts';
import { DEFAULTS } from '../DEFAULTS.ts';

interface BackendActorArgs {
  readonly backend: Backend;
  readonly context: BackendInitContext;
}

/**
 * The actor that owns one backend's lifecycle, as `ejabberd_sm_mnesia` / `ejabberd_sm_redis` are
 * gen_servers under `ejabberd_backend_sup`: `init` runs the backend's
 * `init` (a failure fails the start with that reason), `terminate` its `stop`. Reads and writes do
 * not go through this actor: they run in the caller, as mnesia's dirty operations do.
 *
 * **What survives a restart of this actor.** The store belongs to the {@link Backend} object, not
 * to the actor, as mnesia's `session` table belongs to mnesia and outlives `ejabberd_sm_mnesia`:
 * when the actor crashes its `terminate` does **not** call `backend.stop` (so a `MemoryBackend`
 * keeps every row), and the restarted actor runs `backend.init` again, which must be re-entrant
 * (mnesia's `create_table` on an existing table keeps its rows; a network backend reconnects).
 * `backend.stop` runs only on an orderly shut-down (`normal`, `shutdown`, `{ shutdown }`), i.e. when
 * the session manager stops the backend supervisor.
 */
const backendActor: GenServer<Backend, BackendActorArgs> = {
  async init({ backend, context }) {
    try {
      await backend.init(context);
    } catch (error) {
      return { stop: { error } };
    }
    return { ok: backend };
  },
  handleInfo(message, backend, ctx) {
    moduleLogger(ctx.logger, 'session_manager').debug(
      { message, backend: backend.name },
      'session backend actor: unexpected info',
    );
    return { noreply: true, state: backend };
  },
  async terminate(reason, backend) {
    if (isCleanExit(reason)) await backend.stop?.();
  },
};

/** The child id of the `index`-th distinct backend under the backend supervisor. */
function backendChildId(backend: Backend, index: number): string {
  return `backend:${index}:${backend.name}`;
}

/**
 * The child spec of one backend actor: a `transient` worker with a 5 s shutdown (as
 * `ejabberd_sm_mnesia`'s child spec), trapping exits so that a shut-down runs `terminate`.
 */
export function backendChildSpec(backend: Backend, index: number, context: BackendInitContext): ChildSpec {
  return worker(
    backendChildId(backend, index),
    backendActor,
    { backend, context },
    { restart: 'transient', shutdown: DEFAULTS.backendSupervisor.workerShutdownMs, trapExit: true },
  );
}

/**
 * The backend supervisor's spec: ejabberd's `ejabberd_backend_sup` (`one_for_one`, 10 restarts per
 * second, as `ejabberd_sup` starts it), one backend actor per backend.
 */
function backendSupervisorSpec(
  backends: readonly Backend[],
  context: (backend: Backend) => BackendInitContext,
): { strategy: 'one_for_one'; intensity: number; period: number; label: string; children: ChildSpec[] } {
  const sup = DEFAULTS.backendSupervisor;
  return {
    strategy: 'one_for_one',
    intensity: sup.intensity,
    period: sup.period,
    label: 'session_manager.backend_sup',
    children: backends.map((backend, i) => backendChildSpec(backend, i, context(backend))),
  };
}

/**
 * Starts the backend supervisor linked to the calling actor (the session manager's supervisor),
 * which starts one backend actor per backend in order (each runs `backend.init` with the context
 * `context(backend)` gives). On the first failure the supervisor stops the ones already started
 * (reverse order) and the result names the backend that failed and the reason its `init` gave.
 */
export async function startBackendSupervisor(
  ctx: ActorContext,
  backends: readonly Backend[],
  context: (backend: Backend) => BackendInitContext,
): Promise<{ ok: ActorRef } | { error: ExitReason | unknown; backend: Backend | undefined }> {
  const result = await Supervisor.start(ctx, backendSupervisorSpec(backends, context));
  if (result === 'ignore') return { error: 'normal', backend: undefined };
  if ('ok' in result) return { ok: result.ok };
  const reason = result.error;
  // `{ shutdown: { failedToStartChild: id, reason } }`, where the child's reason is `{ error: thrown }`.
  if (typeof reason === 'object' && reason !== null && 'shutdown' in reason) {
    const failed = reason.shutdown as { failedToStartChild?: unknown; reason?: unknown } | undefined;
    if (failed !== undefined && typeof failed.failedToStartChild === 'string') {
      const backend = backends.find((b, i) => backendChildId(b, i) === failed.failedToStartChild);
      return { error: childError(failed.reason), backend };
    }
  }
  return { error: reason, backend: undefined };
}

/** What a backend's failed `init` threw, from its actor's start reason `{ error: thrown }`. */
export function childError(reason: unknown): unknown {
  return typeof reason === 'object' && reason !== null && 'error' in reason
    ? (reason as { error: unknown }).error
    : reason;
}
