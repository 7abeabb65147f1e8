import {
  type ActorContext,
  type ActorRef,
  type ExitReason,
  type GenServer,
  isCleanExit,
  type StartResult,
} from '@otp-chat/actor';
import type { AnyCommandSpec } from '@otp-chat/event-bus';
import { adminExtraCommands } from '../adminCommands.ts';
import { sessionManagerCommands } from '../commands.ts';
import { DEFAULTS } from '../DEFAULTS.ts';
import { NotStartedError } from '../errors.ts';
import type { SessionManager } from '../SessionManager.ts';

/** The actor's state: the session manager it runs for. */
export interface ServerState {
  readonly sm: SessionManager;
}

/**
 * What the session manager's supervision tree set up, kept on the {@link SessionManager} (not in
 * an actor's state) so that a restarted actor, whose `init` runs again on the same object, finds
 * the backend supervisor it did not start and undoes what a crashed predecessor registered.
 */
export interface ServerRun {
  /** The session manager's actor (ejabberd's `ejabberd_sm` process), once started. */
  actor: ActorRef | undefined;
  /** The supervisor of the backend supervisor and the actor (`rest_for_one`). */
  supervisor: ActorRef | undefined;
  /** The backend supervisor (ejabberd's `ejabberd_backend_sup`), once started. */
  backendSupervisor: ActorRef | undefined;
  /** A new value at each start of the backend supervisor; its backends get it as `incarnation`. */
  backendIncarnation: string | undefined;
  /**
   * The backend incarnation the actor's last `init` saw: `undefined` before the first start and
   * after an orderly stop (the next start then cleans this node's leftovers).
   */
  seenIncarnation: string | undefined;
  /** The commands the last `init` registered. */
  commands: AnyCommandSpec[];
}

/** A new, empty {@link ServerRun}. */
export function newServerRun(): ServerRun {
  return {
    actor: undefined,
    supervisor: undefined,
    backendSupervisor: undefined,
    backendIncarnation: undefined,
    seenIncarnation: undefined,
    commands: [],
  };
}

/**
 * The session manager's gen_server, `ejabberd_sm`'s `init/1`, `handle_info/2` and `terminate/2`,
 * the second child of the session manager's supervisor (after the backend supervisor, which it
 * does not own: the session store outlives it, as mnesia's `session` table outlives
 * `ejabberd_sm`). `init` cleans this node's leftovers at the first start (or asks live
 * connections to re-register when the backend supervisor was restarted since), adds the hooks
 * (`host_up`, `host_down`, and each host's) and registers the commands; `terminate` at an orderly
 * stop tells local sessions `system-shutdown` (`host_down/1` for every host) and undoes the rest.
 * Its argument is the {@link SessionManager} whose lifecycle it owns. Started alone, outside the
 * tree `SessionManager.start` and `sm.childSpec()` build, it has no backends: `init` stops with
 * `NotStartedError`.
 */
export const sessionManagerServer: GenServer<ServerState, SessionManager> = {
  init: (sm, ctx) => init(sm, ctx),
  handleInfo: (message, state) => {
    state.sm.logger.debug({ message }, 'session manager: unexpected info');
    return { noreply: true, state };
  },
  terminate: (reason, state) => terminate(reason, state),
};

/** Starts the actor linked to the calling supervisor (the tree's second child). */
export function startSessionManagerServer(
  ctx: ActorContext,
  sm: SessionManager,
  name: string,
): Promise<StartResult> {
  return ctx.start(sessionManagerServer, sm, { link: true, name, trapExit: true });
}

/** `init/1`. */
async function init(
  sm: SessionManager,
  ctx: ActorContext,
): Promise<{ ok: ServerState } | { stop: ExitReason }> {
  const run = sm.run;
  const backends = run.backendSupervisor;
  if (backends === undefined || !sm.system.isAlive(backends)) {
    return { stop: { error: new NotStartedError() } };
  }
  run.actor = ctx.self;
  // A restart after a crash: hooks and commands the previous actor left are removed first.
  removeRegistrations(sm);
  const incarnation = run.backendIncarnation;
  const first = run.seenIncarnation === undefined;
  const renewed = !first && run.seenIncarnation !== incarnation;
  run.seenIncarnation = incarnation;
  if (first) {
    // Rows a previous run of this node left behind (as `ejabberd_sm_redis:clean_table/1` at
    // start), with their hooks. A failure is reported (backend_error) and does not fail the start.
    await sm.cleanNode(sm.node).catch(() => {});
  } else if (renewed) {
    // The backend supervisor was restarted (it gave up): the store may have lost this node's rows
    // (a memory store stops empty); the live connections write theirs again.
    const n = sm.reregisterLocalSessions();
    sm.logger.warn(
      { node: sm.node, connections: n },
      'session backends restarted; live connections re-register',
    );
  }
  // The global hooks, then each host's (`host_up/1`), then the commands (`get_commands_spec/0`, and
  // mod_admin_extra's session commands).
  const h = sm.hookHandlers;
  const seq = DEFAULTS.hookSeq;
  sm.hooks.add('host_up', 'global', h.hostUp, seq.hostUp);
  sm.hooks.add('host_down', 'global', h.hostDown, seq.hostDown);
  for (const host of sm.hosts) hostHooks(sm, 'add', host);
  const own = sessionManagerCommands(sm);
  const extra = adminExtraCommands(sm);
  run.commands = [...own, ...extra];
  sm.commands.register(own, { definer: 'session_manager' });
  sm.commands.register(extra, { definer: 'mod_admin_extra' });
  return { ok: { sm } };
}

/**
 * `terminate/2`. An orderly stop (`shutdown`, the tree stopping) tells every local session
 * `system-shutdown` (`host_down/1` for each host). A crash does not (the store outlives the actor,
 * the sessions stay and the restarted actor serves them), nor does a stop because the backend
 * supervisor died (the tree restarts both, and the live connections re-register). ejabberd's
 * `terminate/2` kicks them for any reason.
 */
async function terminate(reason: ExitReason, state: ServerState): Promise<void> {
  const sm = state.sm;
  const run = sm.run;
  removeRegistrations(sm);
  const backends = run.backendSupervisor;
  const backendsUp = backends !== undefined && sm.system.isAlive(backends);
  if (!isCleanExit(reason) || !backendsUp) return;
  await sm.tellLocalSessions(undefined);
  run.seenIncarnation = undefined;
}

/** Deletes the hooks and unregisters the commands this session manager added. */
function removeRegistrations(sm: SessionManager): void {
  const h = sm.hookHandlers;
  const seq = DEFAULTS.hookSeq;
  sm.hooks.delete('host_up', 'global', h.hostUp, seq.hostUp);
  sm.hooks.delete('host_down', 'global', h.hostDown, seq.hostDown);
  for (const host of sm.hosts) hostHooks(sm, 'delete', host);
  const run = sm.run;
  for (const name of new Set(run.commands.map((c) => c.name))) sm.commands.unregister(name);
  run.commands = [];
}

/**
 * The per-host hooks of `ejabberd_sm:host_up/1` and `host_down/1`. ejabberd deletes a hook with
 * exactly the arguments it was added with: one list serves both.
 */
export function hostHooks(sm: SessionManager, op: 'add' | 'delete', host: string): void {
  const h = sm.hookHandlers;
  const seq = DEFAULTS.hookSeq;
  sm.hooks[op]('roster_in_subscription', host, h.checkInSubscription, seq.rosterInSubscription);
  sm.hooks[op]('offline_message_hook', host, h.bounceOfflineMessage, seq.offlineMessageHook);
  sm.hooks[op]('bounce_sm_packet', host, h.bounceSmPacket, seq.bounceSmPacket);
  sm.hooks[op]('remove_user', host, h.disconnectRemovedUser, seq.removeUser);
}
