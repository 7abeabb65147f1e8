import { randomUUID } from 'node:crypto';
import type { ActorContext, ActorRef, ExitReason, GenServer } from '@otp-chat/actor';
import type { AnyCommandSpec } from '@otp-chat/event-bus';
import { SYSTEM_SHUTDOWN } from '../ConnectionMessage.ts';
import { sessionManagerCommands } from '../commands.ts';
import { DEFAULTS } from '../DEFAULTS.ts';
import { BackendInitError } from '../errors.ts';
import type { SessionManager } from '../SessionManager.ts';
import { startBackendSupervisor, stopBackendSupervisor } from './backendActors.ts';

/** The actor's state: the session manager it runs for and its backend supervisor. */
export interface ServerState {
  readonly sm: SessionManager;
  /** The backend supervisor (ejabberd's `ejabberd_backend_sup`), linked to the session manager. */
  readonly backendSupervisor: ActorRef;
}

/**
 * What the actor set up for its session manager, kept on the {@link SessionManager} (not in the
 * actor's state) so that a restart after a crash, which runs `init` again on the same object
 * without `terminate`, can wait for the previous backend supervisor and undo the previous
 * registrations first.
 */
export interface ServerRun {
  /** The actor, once started. */
  actor: ActorRef | undefined;
  /** The backend supervisor the last `init` started. */
  backendSupervisor: ActorRef | undefined;
  /** The commands the last `init` registered. */
  commands: AnyCommandSpec[];
}

/**
 * The session manager's gen_server, `ejabberd_sm`'s `init/1`, `handle_info/2` and
 * `terminate/2`: `init` starts the backends, the IQ table, the hooks and the commands;
 * `terminate` sends `system-shutdown` to local sessions and undoes the rest. Its argument is the
 * {@link SessionManager} whose lifecycle it owns, so a supervisor child spec can start it (see
 * `SessionManager.childSpec`).
 */
export const sessionManagerServer: GenServer<ServerState, SessionManager> = {
  init: (sm, ctx) => init(sm, ctx),
  handleInfo: (message, state) => handleInfo(message, state),
  terminate: (_reason, state, ctx) => terminate(state, ctx),
};

/** `init/1`. */
async function init(
  sm: SessionManager,
  ctx: ActorContext,
): Promise<{ ok: ServerState } | { stop: ExitReason }> {
  const run = sm.run;
  run.actor = ctx.self;
  // A restart after a crash (no terminate ran): the previous backend supervisor is shutting down
  // because its parent died; wait for it, so that its backends' `stop` cannot race the new
  // `init`. Hooks and commands the previous run left are removed before they are added again.
  const previous = run.backendSupervisor;
  run.backendSupervisor = undefined;
  if (previous !== undefined && sm.system.isAlive(previous)) await sm.system.whenExit(previous);
  removeRegistrations(sm);
  // 1. one actor per distinct backend, under the backend supervisor; a failure fails the start.
  // One incarnation per run: a backend actor restarted within this run re-inits with the same one.
  const started = await startBackendSupervisor(ctx, sm.store.backends, {
    node: sm.node,
    hosts: sm.hosts,
    logger: sm.logger,
    clock: sm.system.clock,
    incarnation: randomUUID(),
    storeLost: () => storeLost(sm),
  });
  if ('error' in started) {
    return {
      stop: { error: new BackendInitError(started.backend?.name ?? 'unknown', { cause: started.error }) },
    };
  }
  // Rows a previous run of this node left behind (as `ejabberd_sm_redis:clean_table/1` at start),
  // with their hooks. A failure is reported (backend_error) and does not fail the start.
  await sm.cleanNode(sm.node).catch(() => {});
  // 2. the IQ handler table.
  sm.iqHandlers.clear();
  // 3. the hooks (`host_up/1`).
  for (const host of sm.hosts) hostHooks(sm, 'add', host);
  // 4. the commands (`get_commands_spec/0`).
  run.commands = sessionManagerCommands(sm);
  sm.commands.register(run.commands, { definer: 'session_manager' });
  run.backendSupervisor = started.ok;
  return { ok: { sm, backendSupervisor: started.ok } };
}

/** `terminate/2`. */
async function terminate(state: ServerState, ctx: ActorContext): Promise<void> {
  const sm = state.sm;
  // The connections this node knows first (no backend needed: a frozen store cannot hold the
  // shut-down up), then any other local row the store lists (bounded by the backend timeout).
  const told = new Set<string>();
  const tell = (ref: ActorRef): void => {
    const key = ref.toString();
    if (told.has(key)) return;
    told.add(key);
    sm.system.send(ref, SYSTEM_SHUTDOWN);
  };
  for (const ref of sm.localConnections()) tell(ref);
  try {
    const mine = await sm.dirtyGetMySessionsList();
    for (const s of mine) tell(s.sid.ref);
  } catch (error) {
    sm.logger.error({ err: error }, 'session manager: could not list local sessions at shut-down');
  }
  removeRegistrations(sm);
  await stopBackendSupervisor(ctx, state.backendSupervisor);
}

/**
 * `handle_info/2`: the backend supervisor ending (it gave up after too many restarts) stops the
 * session manager with its reason, so that the root supervisor restarts the whole subtree;
 * anything else is logged, as ejabberd's "Unexpected info".
 */
function handleInfo(
  message: unknown,
  state: ServerState,
): { noreply: true; state: ServerState } | { stop: ExitReason; state: ServerState } {
  const m = message as { type?: unknown; from?: ActorRef; reason?: ExitReason } | null;
  if (m !== null && typeof m === 'object' && m.type === 'EXIT' && m.from?.equals(state.backendSupervisor)) {
    state.sm.logger.error({ reason: m.reason }, 'session manager: backend supervisor ended');
    return { stop: m.reason ?? 'shutdown', state };
  }
  state.sm.logger.debug({ message }, 'session manager: unexpected info');
  return { noreply: true, state };
}

/** Deletes the per-host hooks and unregisters the commands this session manager added. */
function removeRegistrations(sm: SessionManager): void {
  for (const host of sm.hosts) hostHooks(sm, 'delete', host);
  const run = sm.run;
  for (const name of new Set(run.commands.map((c) => c.name))) sm.commands.unregister(name);
  run.commands = [];
}

// ejabberd deletes a hook with exactly the arguments it was added with: one list serves both.
function hostHooks(sm: SessionManager, op: 'add' | 'delete', host: string): void {
  const h = sm.hookHandlers;
  const seq = DEFAULTS.hookSeq;
  sm.hooks[op]('roster_in_subscription', host, h.checkInSubscription, seq.rosterInSubscription);
  sm.hooks[op]('offline_message_hook', host, h.bounceOfflineMessage, seq.offlineMessageHook);
  sm.hooks[op]('bounce_sm_packet', host, h.bounceSmPacket, seq.bounceSmPacket);
  sm.hooks[op]('remove_user', host, h.disconnectRemovedUser, seq.removeUser);
}

/** A backend's `storeLost`: the store lost this node's rows; live connections write theirs again. */
function storeLost(sm: SessionManager): void {
  const n = sm.reregisterLocalSessions();
  sm.logger.warn(
    { node: sm.node, connections: n },
    'session store lost this node’s sessions; live connections re-register them',
  );
}
