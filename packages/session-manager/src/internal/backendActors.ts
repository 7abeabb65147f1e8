import type { ActorContext, ActorRef, ExitReason, GenServer } from '@otp-chat/actor';
import type { Backend, BackendInitContext } from '../Backend.ts';

interface BackendActorArgs {
  readonly backend: Backend;
  readonly context: BackendInitContext;
}

/**
 * The actor that owns one backend's lifecycle, as `ejabberd_sm_mnesia` / `ejabberd_sm_redis` are
 * gen_servers under `ejabberd_backend_sup` (spec §1.1, §6): `init` runs the backend's `init`
 * (a failure fails the start with that reason), `terminate` its `stop`. Reads and writes do not go
 * through this actor: they run in the caller, as mnesia's dirty operations do.
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
  async terminate(_reason, backend) {
    await backend.stop?.();
  },
};

/** A started backend actor. */
export interface StartedBackend {
  readonly backend: Backend;
  readonly ref: ActorRef;
}

/**
 * Starts one actor per backend, linked to the calling actor (the session manager), in order;
 * stops at the first failure and stops the ones already started. This is the one place to switch
 * to a `@otp-chat/supervisor` backend supervisor (ejabberd's `ejabberd_backend_sup`).
 */
export async function startBackendActors(
  ctx: ActorContext,
  backends: readonly Backend[],
  context: BackendInitContext,
): Promise<{ ok: StartedBackend[] } | { error: ExitReason; backend: Backend }> {
  const started: StartedBackend[] = [];
  for (const backend of backends) {
    const result = await ctx.start(backendActor, { backend, context }, { link: true });
    if (result === 'ignore' || 'error' in result) {
      await stopBackendActors(ctx, started);
      const error: ExitReason =
        result === 'ignore'
          ? 'normal'
          : typeof result.error === 'object' && 'alreadyStarted' in result.error
            ? 'noproc'
            : result.error;
      return { error, backend };
    }
    started.push({ backend, ref: result.ok });
  }
  return { ok: started };
}

/** Stops backend actors in reverse start order (their `terminate` runs `backend.stop`). */
export async function stopBackendActors(
  ctx: ActorContext,
  started: readonly StartedBackend[],
): Promise<void> {
  for (const { ref } of [...started].reverse()) {
    ctx.unlink(ref);
    if (ctx.system.isAlive(ref)) await ctx.system.stop(ref, 'shutdown');
  }
}
