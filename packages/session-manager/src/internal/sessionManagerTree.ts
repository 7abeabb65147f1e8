import { randomUUID } from 'node:crypto';
import type { ActorContext, StartResult } from '@otp-chat/actor';
import type { SupervisorSpec } from '@otp-chat/supervisor';
import type { Backend, BackendInitContext } from '../Backend.ts';
import { DEFAULTS } from '../DEFAULTS.ts';
import { BackendInitError } from '../errors.ts';
import type { SessionManager } from '../SessionManager.ts';
import { startBackendSupervisor } from './backendActors.ts';
import { startSessionManagerServer } from './SessionManagerServer.ts';

/** The child ids of the session manager's supervisor. */
const BACKEND_SUP_ID = 'backend_sup';
const SERVER_ID = 'session_manager';

/**
 * The session manager's supervision tree, as ejabberd's `ejabberd_sup` holds
 * `ejabberd_backend_sup` before `ejabberd_sm`:
 *
 * ```
 * session manager supervisor (rest_for_one, 10 restarts per 1 s)
 * ├── backend supervisor (one_for_one): one actor per backend, each running backend.init
 * └── session manager actor (ejabberd_sm): hooks, commands, start-up clean-up, shut-down
 * ```
 *
 * A crash of the actor restarts the actor alone: the backends and their store stay, and so does
 * every session. The backend supervisor giving up (too many backend crashes) restarts both, in
 * order; the restarted actor then has the live connections write their rows again.
 */
export function sessionManagerTreeSpec(sm: SessionManager, name: string): SupervisorSpec {
  const flags = DEFAULTS.supervisor;
  return {
    strategy: 'rest_for_one',
    intensity: flags.intensity,
    period: flags.period,
    label: 'session_manager.sup',
    children: [
      {
        id: BACKEND_SUP_ID,
        type: 'supervisor',
        restart: 'permanent',
        shutdown: 'infinity',
        start: (ctx) => startBackends(sm, ctx),
      },
      {
        id: SERVER_ID,
        type: 'worker',
        restart: 'permanent',
        shutdown: DEFAULTS.shutdownMs,
        start: (ctx) => startSessionManagerServer(ctx, sm, name),
      },
    ],
  };
}

/**
 * Starts the backend supervisor with the backends of the hosts served now, each `init` given a
 * new incarnation; a backend whose `init` fails fails this child with a `BackendInitError` whose
 * `cause` is what `init` threw.
 */
async function startBackends(sm: SessionManager, ctx: ActorContext): Promise<StartResult> {
  const incarnation = randomUUID();
  const run = sm.run;
  const started = await startBackendSupervisor(ctx, sm.store.backends, (backend) =>
    backendContext(sm, backend, incarnation),
  );
  if ('error' in started) {
    const name = started.backend?.name ?? 'unknown';
    return { error: { error: new BackendInitError(name, { cause: started.error }) } };
  }
  run.backendSupervisor = started.ok;
  run.backendIncarnation = incarnation;
  return { ok: started.ok };
}

/** What `backend.init` receives in this run of the backend supervisor. */
export function backendContext(
  sm: SessionManager,
  backend: Backend,
  incarnation: string,
): BackendInitContext {
  return {
    node: sm.node,
    hosts: sm.store.hostsOf(backend),
    logger: sm.logger,
    clock: sm.system.clock,
    incarnation,
    storeLost: () => {
      const n = sm.reregisterLocalSessions();
      sm.logger.warn(
        { node: sm.node, connections: n },
        'session store lost this node’s sessions; live connections re-register them',
      );
    },
  };
}

/**
 * The `BackendInitError` inside a failed start of the tree (`{ shutdown: { failedToStartChild,
 * reason: { error } } }`, nested once per supervisor level), or `undefined`.
 */
export function initErrorOf(reason: unknown): BackendInitError | undefined {
  let r = reason;
  for (let depth = 0; depth < 8 && typeof r === 'object' && r !== null; depth++) {
    if (r instanceof BackendInitError) return r;
    if ('error' in r) r = (r as { error: unknown }).error;
    else if ('shutdown' in r) r = (r as { shutdown: { reason?: unknown } }).shutdown?.reason;
    else return undefined;
  }
  return r instanceof BackendInitError ? r : undefined;
}
