import { randomUUID } from 'node:crypto';
import type { ActorContext, ActorRef, ActorSystem, ExitReason, GenServer, Logger } from '@otp-chat/actor';
import { type AnyCommandSpec, Commands, EventBus, Hooks } from '@otp-chat/event-bus';
import { Jid, jid, nameprep, nodeprep, parseJid, resourceprep } from '@otp-chat/jid';
import type { ChildSpec } from '@otp-chat/supervisor';
import type { Element } from '@xmpp/xml';
import type { Backend, MaybePromise } from './Backend.ts';
import { KICK, REPLACED, REREGISTER, type RouteMessage, SYSTEM_SHUTDOWN } from './ConnectionMessage.ts';
import { sessionManagerCommands } from './commands.ts';
import { DEFAULTS } from './DEFAULTS.ts';
import { BackendInitError, BackendTimeoutError, IqDecodeError, UnknownHostError } from './errors.ts';
import type { SmPacketAcc } from './hooks.ts';
import { type IqHandler, IqHandlerTable } from './IqHandlerTable.ts';
import { awaitDown } from './internal/awaitDown.ts';
import { startBackendSupervisor, stopBackendSupervisor } from './internal/backendActors.ts';
import { compareBinary } from './internal/compareBinary.ts';
import { andThen, isThenable } from './internal/maybe.ts';
import { Timeouts } from './internal/timeouts.ts';
import { MemoryBackend } from './MemoryBackend.ts';
import { type PresentResource, presentResources, type RoutingEnv, routeStanza } from './routing.ts';
import {
  cleanSessionList,
  newestSession,
  oldestSession,
  type Priority,
  Session,
  type SessionInfo,
} from './Session.ts';
import { compareSid, type Sid, SidFactory } from './Sid.ts';
import { makeErrorReply, type StanzaErrorCondition } from './stanzaError.ts';

/** A per-user option: a value for everyone or a function of the prepared user and host. */
export type PerUser<T> = T | ((luser: string, lserver: string) => T);

/** Options of {@link SessionManager.start}. */
export interface SessionManagerOptions {
  readonly system: ActorSystem;
  /** The virtual hosts served (prepared with nameprep). */
  readonly hosts: readonly string[];
  /**
   * The backend of each host (`sm_db_type`, per host). @default one `MemoryBackend` shared by every
   * host not listed
   */
  readonly backends?: Readonly<Record<string, Backend>>;
  /** @default a new `Hooks` */
  readonly hooks?: Hooks;
  /** @default a new `Commands` */
  readonly commands?: Commands;
  /** Where `session_opened`, `session_closed` and `backend_error` are emitted. @default a new `EventBus` */
  readonly events?: EventBus;
  /** @default the system's logger */
  readonly logger?: Logger;
  /** `max_user_sessions`. @default DEFAULTS.maxUserSessions (unlimited) */
  readonly maxUserSessions?: PerUser<number>;
  /** `replaced_connection_timeout`, per host. @default DEFAULTS.replacedConnectionTimeoutMs */
  readonly replacedConnectionTimeoutMs?: number | ((lserver: string) => number);
  /**
   * `ejabberd_auth:user_exists/2`, used by the offline path and `roster_in_subscription`.
   * @default every user exists (no auth module is wired yet)
   */
  readonly userExists?: (luser: string, lserver: string) => MaybePromise<boolean>;
  /**
   * `ejabberd_router:route/1` for replies the session manager produces (errors, IQ results).
   * @default replies to a user of a served host are routed through this session manager; others dropped
   */
  readonly router?: (stanza: Element) => void;
  /** Sends a message to a connection on another node; returns false when it cannot. @default none: false */
  readonly remoteSend?: (ref: ActorRef, message: unknown) => boolean;
  /**
   * Longest wait for one backend call before it fails with `BackendTimeoutError`.
   * @default DEFAULTS.backendTimeoutMs
   */
  readonly backendTimeoutMs?: number;
  /** Wall-clock milliseconds for sids. @default Date.now */
  readonly wallClock?: () => number;
  /** Registered name of the actor. @default DEFAULTS.name */
  readonly name?: string;
}

/** What `getUserInfo` reports per session (ejabberd's `[{node,N},{ts,Ts},{pid,Pid},{priority,P} | Info]`). */
export interface UserSessionInfo {
  readonly node: string;
  /** The sid's wall-clock seconds. */
  readonly ts: number;
  readonly ref: ActorRef;
  readonly priority: Priority;
  readonly info: SessionInfo;
}

/** One entry of `user_sessions_info`. */
export interface SessionSummary {
  readonly resource: string;
  readonly priority: number | null;
  readonly node: string;
  readonly uptime: number;
  readonly connection: string | null;
  readonly ip: string | null;
}

const EMPTY: readonly Session[] = Object.freeze([]) as readonly Session[];
/** What a per-user read answers on failure when the caller must tell a failure from "no rows" (by identity). */
const READ_FAILED: readonly Session[] = Object.freeze([]) as readonly Session[];
const NO_INFO: SessionInfo = Object.freeze({});
const IGNORE_SM_BOUNCE = new WeakSet<Element>();
/** What `closeSession` was asked to close, raw and prepared. */
interface CloseTarget {
  readonly sid: Sid;
  readonly user: string;
  readonly server: string;
  readonly resource: string;
  readonly luser: string;
  readonly lserver: string;
  readonly lresource: string;
}
const SUBSCRIPTION: ReadonlySet<unknown> = new Set([
  'subscribe',
  'subscribed',
  'unsubscribe',
  'unsubscribed',
]);
/** Bound of the raw-host-name → prepared-host memo (spellings of served hosts only). */
const MAX_PREPARED_HOSTS = 256;

/** Marks a stanza with ejabberd's `ignore_sm_bounce` meta: a `{bounce}` of it is dropped, not answered. */
export function ignoreSmBounce(stanza: Element): Element {
  IGNORE_SM_BOUNCE.add(stanza);
  return stanza;
}

/** The actor's state: the session manager it runs for and its backend supervisor. */
export interface ServerState {
  readonly sm: SessionManager;
  /** The backend supervisor (ejabberd's `ejabberd_backend_sup`), linked to the session manager. */
  readonly backendSupervisor: ActorRef;
}

/**
 * ejabberd's `ejabberd_sm`: the session table and the routing of stanzas to local users.
 *
 * As in ejabberd (spec §0.1) the API runs **in the caller**: `openSession`, `closeSession`, `route`
 * and the getters call the backend directly, synchronously when it answers synchronously (the
 * memory backend), so routing does not go through a mailbox. The actor ({@link sessionManagerServer},
 * started by {@link SessionManager.start} or by a supervisor) owns the lifecycle: it starts the
 * backends, the IQ table, the hooks and the commands, and at shut-down tells each local session
 * `system-shutdown`.
 *
 * Every method that reads or writes returns a plain value when the backend is synchronous and a
 * promise otherwise (`MaybePromise`): `await` works on both.
 */
export class SessionManager {
  readonly system: ActorSystem;
  readonly hooks: Hooks;
  readonly commands: Commands;
  readonly events: EventBus;
  readonly logger: Logger;
  readonly hosts: readonly string[];
  /** This node's name (`node()`). */
  readonly node: string;
  readonly iqHandlers = new IqHandlerTable();
  private readonly backendByHost = new Map<string, Backend>();
  private readonly distinctBackends: Backend[];
  private readonly sids: SidFactory;
  private readonly wallClock: () => number;
  private readonly maxSessions: PerUser<number>;
  private readonly replaceTimeout: number | ((lserver: string) => number);
  private readonly userExists: (luser: string, lserver: string) => MaybePromise<boolean>;
  private readonly router: (stanza: Element) => void;
  private readonly remoteSend: ((ref: ActorRef, message: unknown) => boolean) | undefined;
  private readonly name: string;
  private readonly preparedHosts = new Map<string, string>();
  private commandSpecs: AnyCommandSpec[] = [];
  private actor: ActorRef | undefined;
  private backendSup: ActorRef | undefined;
  private readonly env: RoutingEnv;
  private readonly backendTimeoutMs: number;
  private readonly timeouts: Timeouts;
  /**
   * The sessions whose connection lives on this node, by `luser@lserver/lresource` (the newest sid
   * of each): a node-local mirror of the rows this node wrote. It answers where the store cannot
   * (a reply to a local full JID while the backend is down) and lists the connections to ask to
   * re-register when the store lost this node's rows, or to tell `system-shutdown`.
   */
  private readonly localSessions = new Map<string, Session>();
  private localWrites = 0;

  constructor(options: SessionManagerOptions) {
    this.system = options.system;
    this.node = options.system.node;
    this.hooks = options.hooks ?? new Hooks();
    this.commands = options.commands ?? new Commands({ hooks: this.hooks });
    this.events = options.events ?? new EventBus();
    this.logger = options.logger ?? options.system.logger;
    this.hosts = options.hosts.map((h) => nameprep(h));
    this.wallClock = options.wallClock ?? Date.now;
    this.sids = new SidFactory(this.node, this.wallClock);
    this.maxSessions = options.maxUserSessions ?? DEFAULTS.maxUserSessions;
    this.replaceTimeout = options.replacedConnectionTimeoutMs ?? DEFAULTS.replacedConnectionTimeoutMs;
    this.userExists = options.userExists ?? (() => true);
    this.router = options.router ?? ((stanza) => this.defaultRouter(stanza));
    this.remoteSend = options.remoteSend;
    this.name = options.name ?? DEFAULTS.name;
    this.backendTimeoutMs = options.backendTimeoutMs ?? DEFAULTS.backendTimeoutMs;
    this.timeouts = new Timeouts(options.system.clock);
    const shared = new MemoryBackend();
    for (const host of this.hosts) this.backendByHost.set(host, options.backends?.[host] ?? shared);
    this.distinctBackends = [...new Set(this.backendByHost.values())];
    this.env = {
      deliver: (s, stanza, smCopy) => this.deliver(s, stanza, smCopy),
      subscriptionAllowed: (p, to) => this.subscriptionAllowed(p, to),
      offline: (m, to) => this.offline(m, to),
      bounce: (tag, stanza, to) => this.bounce(tag, stanza, to),
      iq: (iq, to) => this.processIq(iq, to),
    };
  }

  /**
   * Creates a session manager and starts its actor (`ejabberd_sm:start_link/0`). Rejects with the
   * actor's start error, e.g. a `BackendInitError` when a backend fails to start.
   */
  static async start(options: SessionManagerOptions): Promise<SessionManager> {
    const sm = new SessionManager(options);
    const result = await options.system.start(sessionManagerServer, sm, { name: sm.name, trapExit: true });
    if (result === 'ignore') throw new BackendInitError('unknown');
    if ('error' in result) {
      const reason = result.error;
      if (typeof reason === 'object' && 'error' in reason) throw reason.error;
      throw new BackendInitError('unknown', { cause: reason });
    }
    sm.actor = result.ok;
    return sm;
  }

  /**
   * A child spec that starts this session manager's actor under a supervisor, as `ejabberd_sm` is
   * a `permanent` worker of `ejabberd_sup` (spec §1.1): registered under its name, trapping exits
   * (so that a shut-down runs its `terminate`), `DEFAULTS.shutdownMs` to stop. A restart runs
   * `init` again on the same object (backends, hooks, commands).
   *
   * @example
   * ```ts
   * const sm = new SessionManager({ system, hosts: ['example.com'] });
   * const app = await Application.start({ children: [sm.childSpec()] }, { system });
   * ```
   */
  childSpec(id: string = this.name): ChildSpec {
    return {
      id,
      start: (ctx) => ctx.start(sessionManagerServer, this, { link: true, name: this.name, trapExit: true }),
      restart: 'permanent',
      shutdown: DEFAULTS.shutdownMs,
      type: 'worker',
    };
  }

  /** The actor, once started. */
  get ref(): ActorRef | undefined {
    return this.actor;
  }

  /**
   * The backend supervisor (ejabberd's `ejabberd_backend_sup`) the actor started, once started: a
   * `@otp-chat/supervisor` `Supervisor` with one worker per distinct backend (`whichChildren` works).
   */
  get backendSupervisor(): ActorRef | undefined {
    return this.backendSup;
  }

  /** Stops the actor: local sessions get `system-shutdown`, hooks and commands are removed. */
  async stop(reason: ExitReason = 'shutdown'): Promise<void> {
    const ref = this.actor;
    if (ref === undefined || !this.system.isAlive(ref)) return;
    await this.system.stop(ref, reason);
  }

  // ---- lifecycle (runs in the actor) ----

  /** @internal `init/1` of the actor (spec §1.2). */
  async initServer(ctx: ActorContext): Promise<{ ok: ServerState } | { stop: ExitReason }> {
    this.actor = ctx.self;
    // A restart after a crash (no terminate ran): the previous backend supervisor is shutting down
    // because its parent died; wait for it, so that its backends' `stop` cannot race the new
    // `init`. Hooks and commands the previous run left are removed before they are added again.
    const previous = this.backendSup;
    this.backendSup = undefined;
    if (previous !== undefined && this.system.isAlive(previous)) await this.system.whenExit(previous);
    this.removeRegistrations();
    // 1. one actor per distinct backend, under the backend supervisor; a failure fails the start.
    // One incarnation per run: a backend actor restarted within this run re-inits with the same one.
    const started = await startBackendSupervisor(ctx, this.distinctBackends, {
      node: this.node,
      hosts: this.hosts,
      logger: this.logger,
      clock: this.system.clock,
      incarnation: randomUUID(),
      storeLost: () => this.storeLost(),
    });
    if ('error' in started) {
      return {
        stop: { error: new BackendInitError(started.backend?.name ?? 'unknown', { cause: started.error }) },
      };
    }
    // Rows a previous run of this node left behind (spec §16).
    await this.cleanNode(this.node);
    // 2. the IQ handler table.
    this.iqHandlers.clear();
    // 3. the hooks (spec §12).
    for (const host of this.hosts) this.addHostHooks(host);
    // 4. the commands (spec §11.3).
    this.commandSpecs = sessionManagerCommands(this);
    this.commands.register(this.commandSpecs, { definer: 'session_manager' });
    this.backendSup = started.ok;
    return { ok: { sm: this, backendSupervisor: started.ok } };
  }

  /** @internal `terminate/2` of the actor (spec §1.2). */
  async terminateServer(state: ServerState, ctx: ActorContext): Promise<void> {
    // The connections this node knows first (no backend needed: a frozen store cannot hold the
    // shut-down up), then any other local row the store lists (bounded by the backend timeout).
    const told = new Set<string>();
    const tell = (ref: ActorRef): void => {
      const key = ref.toString();
      if (told.has(key)) return;
      told.add(key);
      this.system.send(ref, SYSTEM_SHUTDOWN);
    };
    for (const s of this.localSessions.values()) tell(s.sid.ref);
    try {
      const mine = await this.dirtyGetMySessionsList();
      for (const s of mine) tell(s.sid.ref);
    } catch (error) {
      this.logger.error({ err: error }, 'session manager: could not list local sessions at shut-down');
    }
    this.removeRegistrations();
    await stopBackendSupervisor(ctx, state.backendSupervisor);
  }

  /**
   * @internal `handle_info` of the actor: the backend supervisor ending (it gave up after too many
   * restarts) stops the session manager with its reason, so that the root supervisor restarts the
   * whole subtree; anything else is logged, as ejabberd's "Unexpected info".
   */
  handleServerInfo(
    message: unknown,
    state: ServerState,
    ctx: ActorContext,
  ): { noreply: true; state: ServerState } | { stop: ExitReason; state: ServerState } {
    const m = message as { type?: unknown; from?: ActorRef; reason?: ExitReason } | null;
    if (m !== null && typeof m === 'object' && m.type === 'EXIT' && m.from?.equals(state.backendSupervisor)) {
      ctx.logger.error({ reason: m.reason }, 'session manager: backend supervisor ended');
      return { stop: m.reason ?? 'shutdown', state };
    }
    ctx.logger.debug({ message }, 'session manager: unexpected info');
    return { noreply: true, state };
  }

  /** Deletes the per-host hooks and unregisters the commands this session manager added. */
  private removeRegistrations(): void {
    for (const host of this.hosts) this.deleteHostHooks(host);
    for (const name of new Set(this.commandSpecs.map((c) => c.name))) this.commands.unregister(name);
    this.commandSpecs = [];
  }

  private readonly hookHandlers = {
    checkInSubscription: (acc: boolean, presence: Element) => this.checkInSubscription(acc, presence),
    bounceOfflineMessage: (acc: SmPacketAcc) => this.bounceOfflineMessage(acc),
    bounceSmPacket: (acc: SmPacketAcc) => this.bounceSmPacket(acc),
    disconnectRemovedUser: (user: string, server: string) => {
      this.disconnectRemovedUser(user, server);
    },
  };

  // ejabberd deletes a hook with exactly the arguments it was added with: one list serves both.
  private addHostHooks(host: string): void {
    this.hostHooks('add', host);
  }

  private deleteHostHooks(host: string): void {
    this.hostHooks('delete', host);
  }

  private hostHooks(op: 'add' | 'delete', host: string): void {
    const h = this.hookHandlers;
    const seq = DEFAULTS.hookSeq;
    this.hooks[op]('roster_in_subscription', host, h.checkInSubscription, seq.rosterInSubscription);
    this.hooks[op]('offline_message_hook', host, h.bounceOfflineMessage, seq.offlineMessageHook);
    this.hooks[op]('bounce_sm_packet', host, h.bounceSmPacket, seq.bounceSmPacket);
    this.hooks[op]('remove_user', host, h.disconnectRemovedUser, seq.removeUser);
  }

  // ---- sessions (spec §2) ----

  /** `make_sid/0`: a new sid owned by the connection `ref` (normally the caller's `ctx.self`). */
  makeSid(ref: ActorRef): Sid {
    return this.sids.make(ref);
  }

  /**
   * `open_session/5,6` (spec §2, §4): writes the row, replaces older sessions of the same full JID
   * (sends them `replaced` and waits up to `replacedConnectionTimeoutMs` for them to end), enforces
   * `maxUserSessions` by sending `replaced` to the oldest session, then runs
   * `sm_register_connection_hook`. Throws `InvalidJidError` for an invalid user, server or resource
   * and `UnknownHostError` for a host not served. A failed backend write fails the call with the
   * backend's error and nothing else happens but a best-effort `deleteSession` of the refused row
   * (so that a backend replaying failed writes cannot recreate it; ejabberd ignores the failure and
   * carries on: see the README).
   */
  openSession(
    sid: Sid,
    user: string,
    server: string,
    resource: string,
    priority: Priority = undefined,
    info: SessionInfo = NO_INFO,
  ): MaybePromise<void> {
    // ejabberd's order (jid:make/3): user, server, resource; each throws InvalidJidError.
    const luser = nodeprep(user);
    const lserver = this.prepareHost(server);
    const lresource = resourceprep(resource);
    const backend = this.backendOf(lserver);
    const row = new Session(sid, luser, lserver, lresource, priority, info);
    // 1. write; 2. replacement and max_user_sessions checks; 3. hook (spec §2, §4). Synchronous as
    // long as the backend answers synchronously: no closure, no promise.
    let written: MaybePromise<void>;
    try {
      written = this.write(backend, row);
    } catch (error) {
      // Issued now, not waited for: a synchronous failure stays synchronous.
      const undone = this.remove(backend, row);
      if (isThenable(undone)) undone.catch(() => {});
      throw error;
    }
    if (isThenable(written)) {
      return written.then(
        () => this.openReplace(backend, row, user, server, resource, info),
        (error: unknown) => this.refuseOpen(backend, row, error),
      );
    }
    return this.openReplace(backend, row, user, server, resource, info);
  }

  /**
   * A failed write refuses the session: the row is deleted (best effort; a failure is reported and
   * logged) before the write's error is re-thrown, so that a backend that replays failed writes
   * once it is back (Redis) does not recreate the row of a connection that was refused (§14 #1271).
   */
  private refuseOpen(backend: Backend, row: Session, error: unknown): Promise<never> {
    const undone = this.remove(backend, row);
    if (isThenable(undone)) {
      return undone.then(() => {
        throw error;
      });
    }
    return Promise.reject(error);
  }

  private openReplace(
    backend: Backend,
    row: Session,
    user: string,
    server: string,
    resource: string,
    info: SessionInfo,
  ): MaybePromise<void> {
    this.noteLocal(row);
    const replaced = this.checkForSessionsToReplace(backend, row.luser, row.lserver, row.lresource);
    if (isThenable(replaced)) {
      return replaced.then(() => this.openedHooks(row, user, server, resource, info));
    }
    return this.openedHooks(row, user, server, resource, info);
  }

  /** `sm_register_connection_hook` and the `session_opened` event; nothing is built for nobody. */
  private openedHooks(
    row: Session,
    user: string,
    server: string,
    resource: string,
    info: SessionInfo,
  ): MaybePromise<void> {
    const { sid, luser, lserver, lresource } = row;
    const r = this.hooks.has('sm_register_connection_hook', lserver)
      ? this.hooks.run(
          'sm_register_connection_hook',
          lserver,
          sid,
          new Jid(user, server, resource, luser, lserver, lresource),
          info,
        )
      : undefined;
    if (this.events.has('session_opened')) {
      this.events.emit('session_opened', { sid, user: luser, host: lserver, resource: lresource });
    }
    return r;
  }

  /**
   * `nameprep(server)`, remembered for the raw spellings of served hosts (a handful of strings), so
   * the hot path does not re-prepare the same host name on every call.
   */
  private prepareHost(server: string): string {
    const known = this.preparedHosts.get(server);
    if (known !== undefined) return known;
    const lserver = nameprep(server);
    if (this.backendByHost.has(lserver) && this.preparedHosts.size < MAX_PREPARED_HOSTS) {
      this.preparedHosts.set(server, lserver);
    }
    return lserver;
  }

  /** `check_for_sessions_to_replace/4` (spec §4.2, §4.3, §4.6). */
  private checkForSessionsToReplace(
    backend: Backend,
    luser: string,
    lserver: string,
    lresource: string,
  ): MaybePromise<void> {
    const rows = this.userRows(backend, luser, lserver);
    if (isThenable(rows)) return rows.then((r) => this.replaceOlder(backend, luser, lserver, lresource, r));
    return this.replaceOlder(backend, luser, lserver, lresource, rows);
  }

  private replaceOlder(
    backend: Backend,
    luser: string,
    lserver: string,
    lresource: string,
    rows: readonly Session[],
  ): MaybePromise<void> {
    let same = 0;
    for (let i = 0; i < rows.length; i++) if (rows[i]!.lresource === lresource) same++;
    if (same <= 1) return this.checkMaxSessions(backend, luser, lserver, rows);
    // Every row of this full JID except the newest gets `replaced`.
    const sameRes = rows.filter((s) => s.lresource === lresource);
    const newest = newestSession(sameRes)!;
    const waitFor: ActorRef[] = [];
    for (const s of sameRes) {
      if (s === newest) continue;
      this.send(s.sid.ref, REPLACED);
      waitFor.push(s.sid.ref);
    }
    const timeout =
      typeof this.replaceTimeout === 'function' ? this.replaceTimeout(lserver) : this.replaceTimeout;
    if (timeout <= 0) return this.checkMaxSessions(backend, luser, lserver, undefined);
    return awaitDown(this.system, waitFor, timeout).then(() =>
      this.checkMaxSessions(backend, luser, lserver, undefined),
    );
  }

  /** `check_max_sessions/2` (spec §4.6): all rows, not deduplicated; kicks exactly the oldest. */
  private checkMaxSessions(
    backend: Backend,
    luser: string,
    lserver: string,
    known: readonly Session[] | undefined,
  ): MaybePromise<void> {
    const max = typeof this.maxSessions === 'function' ? this.maxSessions(luser, lserver) : this.maxSessions;
    // get_max_user_sessions/2: an integer is the limit; anything else (infinity, NaN, 1.5) is infinity.
    if (!Number.isInteger(max)) return;
    return andThen(known ?? this.userRows(backend, luser, lserver), (rows) => {
      if (rows.length <= max) return;
      const oldest = oldestSession(rows);
      if (oldest !== undefined) this.send(oldest.sid.ref, REPLACED);
    });
  }

  /**
   * `close_session/4`: deletes the row with this sid if it exists and **always** runs
   * `sm_remove_connection_hook` (with `{}` as info when there was no row). When the user's rows
   * cannot be read, the row is deleted by sid anyway (built from the sid and the prepared names,
   * `priority: undefined`) and the hook runs with `{}`: no stale row outlives an outage (§14 #1271).
   */
  closeSession(sid: Sid, user: string, server: string, resource: string): MaybePromise<void> {
    const luser = nodeprep(user);
    const lserver = this.prepareHost(server);
    const lresource = resourceprep(resource);
    const backend = this.backendOf(lserver);
    this.forgetLocal(sid, luser, lserver, lresource);
    const target: CloseTarget = { sid, user, server, resource, luser, lserver, lresource };
    const rows = this.userRows(backend, luser, lserver, READ_FAILED);
    if (isThenable(rows)) return rows.then((r) => this.closeFound(backend, r, target));
    return this.closeFound(backend, rows, target);
  }

  private closeFound(backend: Backend, rows: readonly Session[], t: CloseTarget): MaybePromise<void> {
    if (rows === READ_FAILED) {
      // The read failed (reported): delete by sid anyway, so that no stale row outlives the outage
      // (§14 #1271); the row's priority and info are unknown, so the hook gets `{}`.
      const row = new Session(t.sid, t.luser, t.lserver, t.lresource, undefined);
      const deleted = this.remove(backend, row);
      if (isThenable(deleted)) return deleted.then(() => this.closedHooks(t, NO_INFO));
      return this.closedHooks(t, NO_INFO);
    }
    let found: Session | undefined;
    for (let i = 0; i < rows.length; i++) {
      const s = rows[i]!;
      if (s.lresource === t.lresource && s.sid.equals(t.sid)) {
        found = s;
        break;
      }
    }
    if (found === undefined) return this.closedHooks(t, NO_INFO);
    const info = found.info;
    const deleted = this.remove(backend, found);
    if (isThenable(deleted)) return deleted.then(() => this.closedHooks(t, info));
    return this.closedHooks(t, info);
  }

  /** `sm_remove_connection_hook` (always; `{}` info without a row), then `session_closed`. */
  private closedHooks(t: CloseTarget, info: SessionInfo): MaybePromise<void> {
    const r = this.hooks.has('sm_remove_connection_hook', t.lserver)
      ? this.hooks.run(
          'sm_remove_connection_hook',
          t.lserver,
          t.sid,
          new Jid(t.user, t.server, t.resource, t.luser, t.lserver, t.lresource),
          info,
        )
      : undefined;
    if (this.events.has('session_closed')) {
      this.events.emit('session_closed', {
        sid: t.sid,
        user: t.luser,
        host: t.lserver,
        resource: t.lresource,
      });
    }
    return r;
  }

  /** `close_session_unset_presence/5`: `closeSession`, then `unset_presence_hook`. */
  closeSessionUnsetPresence(
    sid: Sid,
    user: string,
    server: string,
    resource: string,
    status: string,
  ): MaybePromise<void> {
    return andThen(this.closeSession(sid, user, server, resource), () =>
      this.hooks.run('unset_presence_hook', nameprep(server), user, server, resource, status),
    );
  }

  /**
   * `set_presence/6`: rewrites the row with the new priority, then `set_presence_hook`. As in
   * ejabberd, a failed write is not an error of this call: it is reported (`backend_error`) and the
   * hook still runs.
   */
  setPresence(
    sid: Sid,
    user: string,
    server: string,
    resource: string,
    priority: number,
    presence: Element,
  ): MaybePromise<'ok' | 'notfound'> {
    return this.updatePriority(sid, user, server, resource, priority, (lserver) =>
      this.hooks.run('set_presence_hook', lserver, user, server, resource, presence),
    );
  }

  /**
   * `unset_presence/5`: priority back to `undefined` (bound, not available), then
   * `unset_presence_hook`; a failed write is reported, as in `setPresence`.
   */
  unsetPresence(
    sid: Sid,
    user: string,
    server: string,
    resource: string,
    status: string,
  ): MaybePromise<'ok' | 'notfound'> {
    return this.updatePriority(sid, user, server, resource, undefined, (lserver) =>
      this.hooks.run('unset_presence_hook', lserver, user, server, resource, status),
    );
  }

  private updatePriority(
    sid: Sid,
    user: string,
    server: string,
    resource: string,
    priority: Priority,
    hook: (lserver: string) => MaybePromise<void>,
  ): MaybePromise<'ok' | 'notfound'> {
    const j = jid(user, server, resource);
    const backend = this.backendOf(j.lserver);
    this.updateLocal(sid, j.luser, j.lserver, j.lresource, (s) => s.withPriority(priority));
    return andThen(this.userRows(backend, j.luser, j.lserver), (rows) => {
      const row = rows.find((s) => s.lresource === j.lresource && s.sid.equals(sid));
      if (row === undefined) return 'notfound' as const;
      // ejabberd ignores set_session's {error, _} here: reported (backend_error), then the hook.
      return andThen(this.writeReported(backend, row.withPriority(priority)), () =>
        andThen(hook(j.lserver), () => 'ok' as const),
      );
    });
  }

  /** `get_user_resources/2`: one per resource, `undefined` priorities included. */
  getUserResources(user: string, server: string): MaybePromise<string[]> {
    return andThen(this.rowsOf(user, server), (rows) => cleanSessionList(rows).map((s) => s.lresource));
  }

  /** `get_user_present_resources/2` (prepared args): integer priorities only, negatives included. */
  getUserPresentResources(luser: string, lserver: string): MaybePromise<PresentResource[]> {
    const backend = this.backendByHost.get(lserver);
    if (backend === undefined) return [];
    return andThen(this.userRows(backend, luser, lserver), presentResources);
  }

  /** `get_user_info/2`: per resource (newest row). */
  getUserInfo(user: string, server: string): MaybePromise<{ resource: string; info: UserSessionInfo }[]>;
  /** `get_user_info/3`: the newest session of the resource, or `'offline'`. */
  getUserInfo(user: string, server: string, resource: string): MaybePromise<UserSessionInfo | 'offline'>;
  getUserInfo(
    user: string,
    server: string,
    resource?: string,
  ): MaybePromise<{ resource: string; info: UserSessionInfo }[] | UserSessionInfo | 'offline'> {
    if (resource === undefined) {
      return andThen(this.rowsOf(user, server), (rows) =>
        cleanSessionList(rows).map((s) => ({ resource: s.lresource, info: userInfo(s) })),
      );
    }
    return andThen(this.resourceRows(user, server, resource), (rows) => {
      const s = newestSession(rows);
      return s === undefined ? ('offline' as const) : userInfo(s);
    });
  }

  /**
   * `set_user_info/5`: stores `key` in the info of the rows of this full JID **owned by `owner`**
   * (the calling connection; spec §2, MongooseIM PR #1141).
   */
  setUserInfo(
    user: string,
    server: string,
    resource: string,
    key: string,
    value: unknown,
    owner: ActorRef,
  ): MaybePromise<'ok' | 'notfound' | 'not_owner'> {
    return this.updateInfo(user, server, resource, owner, (info) => ({ ...info, [key]: value }));
  }

  /** `del_user_info/4`: removes `key`, same owner rule. */
  delUserInfo(
    user: string,
    server: string,
    resource: string,
    key: string,
    owner: ActorRef,
  ): MaybePromise<'ok' | 'notfound' | 'not_owner'> {
    return this.updateInfo(user, server, resource, owner, (info) => {
      const next = { ...info };
      delete next[key];
      return next;
    });
  }

  private updateInfo(
    user: string,
    server: string,
    resource: string,
    owner: ActorRef,
    change: (info: SessionInfo) => SessionInfo,
  ): MaybePromise<'ok' | 'notfound' | 'not_owner'> {
    const j = jid(user, server, resource);
    const backend = this.backendOf(j.lserver);
    return andThen(this.userRows(backend, j.luser, j.lserver), async (all) => {
      const rows = all.filter((s) => s.lresource === j.lresource);
      if (rows.length === 0) return 'notfound' as const;
      const owned = rows.filter((s) => s.sid.ref.equals(owner));
      if (owned.length === 0) return 'not_owner' as const;
      for (const s of owned) {
        const next = s.withInfo(Object.freeze(change(s.info)));
        this.updateLocal(s.sid, s.luser, s.lserver, s.lresource, () => next);
        await this.write(backend, next);
      }
      return 'ok' as const;
    });
  }

  /** `get_session_pid/3`: the connection of the newest session of the resource. */
  getSessionRef(user: string, server: string, resource: string): MaybePromise<ActorRef | undefined> {
    return andThen(this.resourceRows(user, server, resource), (rows) => newestSession(rows)?.sid.ref);
  }

  /** `get_session_sid/3`: the sid of the newest session of the resource. */
  getSessionSid(user: string, server: string, resource: string): MaybePromise<Sid | undefined> {
    return andThen(this.resourceRows(user, server, resource), (rows) => newestSession(rows)?.sid);
  }

  /** `get_session_sids/2,3`: every sid, not deduplicated. */
  getSessionSids(user: string, server: string, resource?: string): MaybePromise<Sid[]> {
    const rows =
      resource === undefined ? this.rowsOf(user, server) : this.resourceRows(user, server, resource);
    return andThen(rows, (r) => r.map((s) => s.sid));
  }

  /** `is_existing_resource/3`. */
  isExistingResource(user: string, server: string, resource: string): MaybePromise<boolean> {
    return andThen(this.resourceRows(user, server, resource), (rows) => rows.length > 0);
  }

  /** `dirty_get_sessions_list/0`: every `usr` of every backend, not deduplicated. */
  dirtyGetSessionsList(): MaybePromise<[string, string, string][]> {
    return andThen(this.allRows(), (rows) =>
      rows.map((s) => [s.luser, s.lserver, s.lresource] as [string, string, string]),
    );
  }

  /** `dirty_get_my_sessions_list/0`: the rows whose connection is on this node. */
  dirtyGetMySessionsList(): MaybePromise<Session[]> {
    return andThen(this.allRows(), (rows) => rows.filter((s) => s.sid.ref.node === this.node));
  }

  /** `get_vh_session_list/1`: every `usr` of a host, not deduplicated. */
  getVhSessionList(server: string): MaybePromise<[string, string, string][]> {
    return andThen(this.hostRows(nameprep(server)), (rows) =>
      rows.map((s) => [s.luser, s.lserver, s.lresource] as [string, string, string]),
    );
  }

  /** `get_vh_session_number/1`. */
  getVhSessionNumber(server: string): MaybePromise<number> {
    return andThen(this.hostRows(nameprep(server)), (rows) => rows.length);
  }

  /**
   * `connected_users/0`: `user@server/resource`, one per row, in the order of `lists:sort` on the
   * `{user, server, resource}` tuples (element-wise, each compared as a binary), then formatted.
   */
  connectedUsers(): MaybePromise<string[]> {
    return andThen(this.allRows(), (rows) =>
      rows
        .slice()
        .sort(
          (x, y) =>
            compareBinary(x.luser, y.luser) ||
            compareBinary(x.lserver, y.lserver) ||
            compareBinary(x.lresource, y.lresource),
        )
        .map((s) => `${s.luser}@${s.lserver}/${s.lresource}`),
    );
  }

  /** `connected_users_number/0`. */
  connectedUsersNumber(): MaybePromise<number> {
    return andThen(this.allRows(), (rows) => rows.length);
  }

  /** `user_resources/2`: the resources, sorted as binaries (code point order). */
  userResources(user: string, server: string): MaybePromise<string[]> {
    return andThen(this.getUserResources(user, server), (r) => r.sort(compareBinary));
  }

  /** `kick_user/2`: `kick` to the newest session of each resource; the number sent. */
  kickUser(user: string, server: string): MaybePromise<number>;
  /** `kick_user/3`: `kick` to the newest session of the resource; false when none or dead. */
  kickUser(user: string, server: string, resource: string): MaybePromise<boolean>;
  kickUser(user: string, server: string, resource?: string): MaybePromise<number | boolean> {
    if (resource !== undefined) {
      return andThen(this.resourceRows(user, server, resource), (rows) => {
        const s = newestSession(rows);
        return s === undefined ? false : this.send(s.sid.ref, KICK);
      });
    }
    return andThen(this.rowsOf(user, server), (rows) => {
      let n = 0;
      for (const s of cleanSessionList(rows)) if (this.send(s.sid.ref, KICK)) n++;
      return n;
    });
  }

  /** `kick_users/1`: kicks every session of a host; returns the number of rows listed. */
  kickUsers(server: string): MaybePromise<number> {
    return andThen(this.getVhSessionList(server), async (list) => {
      for (const [u, s, r] of list) await this.kickUser(u, s, r);
      return list.length;
    });
  }

  /** mod_admin_extra's `kick_session`: `{exit, reason}` to the session (`route/2`). */
  kickSession(user: string, server: string, resource: string, reason: string): MaybePromise<void> {
    return this.route(jid(user, server, resource), { type: 'exit', reason });
  }

  /** mod_admin_extra's `user_sessions_info`: one entry per resource. */
  userSessionsInfo(user: string, server: string): MaybePromise<SessionSummary[]> {
    const nowS = Math.floor(this.wallClock() / 1000);
    return andThen(this.rowsOf(user, server), (rows) =>
      cleanSessionList(rows).map((s) => ({
        resource: s.lresource,
        priority: s.priority ?? null,
        node: s.sid.ref.node,
        uptime: Math.max(0, nowS - s.sid.time),
        connection: typeof s.info.conn === 'string' ? s.info.conn : null,
        ip: typeof s.info.ip === 'string' ? s.info.ip : null,
      })),
    );
  }

  /**
   * Removes the rows of every connection on `node` from every backend and runs
   * `sm_remove_connection_hook` for each (beyond ejabberd: every backend, with hooks; spec §7).
   * Returns the number removed.
   */
  async cleanNode(node: string): Promise<number> {
    let n = 0;
    for (const backend of this.distinctBackends) {
      let removed: readonly Session[];
      try {
        const r = backend.cleanNode(node);
        // A node's clean-up runs in many bounded batches: ten timeouts for the whole of it.
        removed = isThenable(r) ? await this.timed(backend, 'cleanNode', r, 10 * this.backendTimeoutMs) : r;
      } catch (error) {
        this.backendError(backend, 'cleanNode', undefined, error);
        continue;
      }
      for (const s of removed) {
        n++;
        const j = new Jid(s.luser, s.lserver, s.lresource, s.luser, s.lserver, s.lresource);
        await this.hooks.run('sm_remove_connection_hook', s.lserver, s.sid, j, s.info);
        if (this.events.has('session_closed')) {
          this.events.emit('session_closed', {
            sid: s.sid,
            user: s.luser,
            host: s.lserver,
            resource: s.lresource,
            reason: 'node_down',
          });
        }
      }
    }
    return n;
  }

  // ---- this node's sessions (sessions are facts of the node that holds the connection) ----

  private static usr(luser: string, lserver: string, lresource: string): string {
    return `${luser}@${lserver}/${lresource}`;
  }

  /** Remembers a row this node wrote for one of its own connections (the newest sid per resource). */
  private noteLocal(row: Session): void {
    if (row.sid.ref.node !== this.node) return;
    const key = SessionManager.usr(row.luser, row.lserver, row.lresource);
    const known = this.localSessions.get(key);
    // A newer live session of the resource stays (the older one is being replaced).
    if (known !== undefined && compareSid(known.sid, row.sid) > 0 && this.system.isAlive(known.sid.ref)) {
      return;
    }
    this.localSessions.set(key, row);
    // Connections that ended without closeSession (a crash) are swept now and then.
    if (++this.localWrites % 1024 === 0) this.sweepLocal();
  }

  private forgetLocal(sid: Sid, luser: string, lserver: string, lresource: string): void {
    const key = SessionManager.usr(luser, lserver, lresource);
    const known = this.localSessions.get(key);
    if (known?.sid.equals(sid)) this.localSessions.delete(key);
  }

  private updateLocal(
    sid: Sid,
    luser: string,
    lserver: string,
    lresource: string,
    change: (row: Session) => Session,
  ): void {
    const key = SessionManager.usr(luser, lserver, lresource);
    const known = this.localSessions.get(key);
    if (known?.sid.equals(sid)) this.localSessions.set(key, change(known));
  }

  private sweepLocal(): void {
    for (const [key, s] of this.localSessions) {
      if (!this.system.isAlive(s.sid.ref)) this.localSessions.delete(key);
    }
  }

  /** The live local session of a full JID, from this node's own knowledge (no backend). */
  private localSession(luser: string, lserver: string, lresource: string): Session | undefined {
    const s = this.localSessions.get(SessionManager.usr(luser, lserver, lresource));
    return s !== undefined && this.system.isAlive(s.sid.ref) ? s : undefined;
  }

  /** Number of live sessions whose connection is on this node, as this node knows them. */
  get localSessionCount(): number {
    this.sweepLocal();
    return this.localSessions.size;
  }

  /**
   * Asks every live connection of this node that holds a session to write its row again
   * (`reregister`; the connection calls {@link reregisterSession} with its sid, priority and
   * info). Run when the store lost this node's rows (a backend's `storeLost`, e.g. a Redis
   * restarted without persistence). Returns the number of connections asked.
   */
  reregisterLocalSessions(): number {
    this.sweepLocal();
    const asked = new Set<string>();
    for (const s of this.localSessions.values()) {
      const key = s.sid.ref.toString();
      if (asked.has(key)) continue;
      asked.add(key);
      this.system.send(s.sid.ref, REREGISTER);
    }
    return asked.size;
  }

  /**
   * Writes the row of a session that is already open again (ejabberd's internal `set_session/6`):
   * same sid, no replacement, no `maxUserSessions` check, no hook. What a connection answers to
   * `reregister`. Rejects (or throws) with the backend's error.
   */
  reregisterSession(
    sid: Sid,
    user: string,
    server: string,
    resource: string,
    priority: Priority,
    info: SessionInfo,
  ): MaybePromise<void> {
    const luser = nodeprep(user);
    const lserver = this.prepareHost(server);
    const lresource = resourceprep(resource);
    const row = new Session(sid, luser, lserver, lresource, priority, info);
    this.noteLocal(row);
    return this.write(this.backendOf(lserver), row);
  }

  private storeLost(): void {
    const n = this.reregisterLocalSessions();
    this.logger.warn(
      { node: this.node, connections: n },
      'session store lost this node’s sessions; live connections re-register them',
    );
  }

  // ---- IQ handlers (spec §10) ----

  /** `gen_iq_handler:add_iq_handler(ejabberd_sm, Host, NS, …)`: the last registration wins. */
  registerIqHandler(host: string, ns: string, handler: IqHandler): void {
    this.iqHandlers.register(nameprep(host), ns, handler);
  }

  /** `gen_iq_handler:remove_iq_handler(ejabberd_sm, Host, NS)`. */
  unregisterIqHandler(host: string, ns: string): boolean {
    return this.iqHandlers.unregister(nameprep(host), ns);
  }

  // ---- routing (spec §3) ----

  /** `route/1`: routes a stanza addressed to a local user (`sm_receive_packet`, then §3.2). */
  route(stanza: Element): MaybePromise<void>;
  /** `route/2`: sends a raw term to the connection(s) of `to` (spec §3.1); errors are logged. */
  route(to: Jid, term: unknown): MaybePromise<void>;
  route(target: Element | Jid, term?: unknown): MaybePromise<void> {
    if (target instanceof Jid) return this.routeTerm(target, term);
    const toAttr = target.attrs.to;
    if (typeof toAttr !== 'string') {
      this.logger.debug({ stanza: target.name }, 'session manager: stanza without a to attribute dropped');
      return;
    }
    let to: Jid;
    try {
      to = parseJid(toAttr);
    } catch (error) {
      this.logger.debug({ err: error, to: toAttr }, 'session manager: stanza to an invalid JID dropped');
      return;
    }
    const packet = this.hooks.runFold('sm_receive_packet', to.lserver, target);
    if (isThenable(packet)) return packet.then((p) => this.doRoute(p, to, toAttr));
    return this.doRoute(packet, to, toAttr);
  }

  private doRoute(packet: Element | 'drop', to: Jid, toAttr: string): MaybePromise<void> {
    if (packet === 'drop') return;
    // do_route(Packet1) reads the destination from the stanza the fold returned.
    const toNow = packet.attrs.to;
    if (toNow !== toAttr && typeof toNow === 'string') {
      try {
        to = parseJid(toNow);
      } catch (error) {
        this.logger.debug({ err: error }, 'session manager: sm_receive_packet gave an invalid to; dropped');
        return;
      }
    }
    const backend = this.backendByHost.get(to.lserver);
    if (backend === undefined) {
      this.logger.debug({ to: to.toString() }, 'session manager: stanza to a host not served dropped');
      return;
    }
    const rows = this.userRows(backend, to.luser, to.lserver, READ_FAILED);
    if (isThenable(rows)) return rows.then((r) => this.routeRows(packet, to, r));
    return this.routeRows(packet, to, rows);
  }

  private routeRows(packet: Element, to: Jid, rows: readonly Session[]): MaybePromise<void> {
    if (rows === READ_FAILED) return this.routeWithoutBackend(packet, to);
    return routeStanza(packet, to, rows, this.env);
  }

  /**
   * The user's rows cannot be read (the backend is down or timed out; reported). Beyond ejabberd,
   * which routes as if the user had no session (so the stanza lands in offline storage or is
   * bounced as "not found"): a stanza to a full JID whose connection is on this node is delivered
   * from this node's own knowledge (the reply to a client's IQ to the server included); an IQ
   * get/set to a bare JID is still handled by the IQ table (it needs no session); a message or
   * any other IQ gets `internal-server-error` back, never a silent drop or a wrong offline store;
   * other presences are dropped (logged), as undeliverable presences are.
   */
  private routeWithoutBackend(packet: Element, to: Jid): MaybePromise<void> {
    if (to.lresource !== '') {
      const s = this.localSession(to.luser, to.lserver, to.lresource);
      if (s !== undefined) {
        this.deliver(s, packet, false);
        return;
      }
    }
    const name = packet.name;
    const type = packet.attrs.type;
    if (name === 'iq' && to.lresource === '' && (type === 'get' || type === 'set')) {
      return this.processIq(packet, to);
    }
    if (name === 'message' || name === 'iq' || (name === 'presence' && SUBSCRIPTION.has(type))) {
      this.routeError(packet, 'internal-server-error', 'The session store is unavailable');
      return;
    }
    this.logger.debug(
      { to: to.toString(), stanza: name },
      'session manager: store unavailable, presence dropped',
    );
  }

  private routeTerm(to: Jid, term: unknown): MaybePromise<void> {
    try {
      const backend = this.backendByHost.get(to.lserver);
      if (backend === undefined) return;
      const done = andThen(this.userRows(backend, to.luser, to.lserver), (rows) => {
        const targets =
          to.lresource === '' ? cleanSessionList(rows) : rows.filter((s) => s.lresource === to.lresource);
        if (to.lresource !== '') {
          const s = newestSession(targets);
          if (s === undefined)
            this.logger.debug({ to: to.toString() }, 'dropping broadcast to unavailable resource');
          else this.send(s.sid.ref, term);
          return;
        }
        for (const s of targets) this.send(s.sid.ref, term);
      });
      if (isThenable(done)) {
        return done.catch((error: unknown) =>
          this.logger.error({ err: error }, 'session manager: route/2 failed'),
        );
      }
    } catch (error) {
      this.logger.error({ err: error }, 'session manager: route/2 failed');
    }
  }

  private deliver(s: Session, stanza: Element, smCopy: boolean): void {
    const ref = s.sid.ref;
    const message: RouteMessage = { type: 'route', stanza, smCopy };
    if (ref.node === this.node) this.system.send(ref, message);
    else this.sendRemote(ref, message);
  }

  /** `ejabberd_cluster:send/2`: true when sent (a live local actor, or a remote send that succeeded). */
  private send(ref: ActorRef, message: unknown): boolean {
    if (ref.node !== this.node) return this.sendRemote(ref, message);
    if (!this.system.isAlive(ref)) return false;
    this.system.send(ref, message);
    return true;
  }

  /** The remote send; one that throws is logged and counts as not sent (`noconnect` never raises). */
  private sendRemote(ref: ActorRef, message: unknown): boolean {
    if (this.remoteSend === undefined) return false;
    try {
      return this.remoteSend(ref, message);
    } catch (error) {
      this.logger.error({ err: error, to: ref.toString() }, 'session manager: remote send failed');
      return false;
    }
  }

  /**
   * `ejabberd_auth:user_exists/2`, which answers false when the store fails: a `userExists` that
   * throws or rejects is logged and counts as "does not exist".
   */
  private exists(luser: string, lserver: string): MaybePromise<boolean> {
    const failed = (error: unknown): false => {
      this.logger.error({ err: error, user: luser, host: lserver }, 'session manager: userExists failed');
      return false;
    };
    try {
      const r = this.userExists(luser, lserver);
      return isThenable(r) ? r.then((v) => v === true, failed) : r === true;
    } catch (error) {
      return failed(error);
    }
  }

  private privacyAllows(to: Jid, packet: Element): MaybePromise<boolean> {
    return andThen(
      this.hooks.runFold('privacy_check_packet', to.domain, 'allow', to, packet, 'in'),
      (r) => r === 'allow',
    );
  }

  private subscriptionAllowed(presence: Element, to: Jid): MaybePromise<boolean> {
    return andThen(this.privacyAllows(to, presence), (allowed) =>
      allowed
        ? andThen(
            this.hooks.runFold('roster_in_subscription', to.lserver, false, presence),
            (r) => r === true,
          )
        : false,
    );
  }

  private offline(message: Element, to: Jid): MaybePromise<void> {
    return andThen(this.exists(to.luser, to.lserver), (exists) =>
      andThen(exists ? this.privacyAllows(to, message) : false, (ok) => {
        if (!ok) {
          this.routeError(message, 'service-unavailable');
          return;
        }
        return andThen(
          this.hooks.runFold('offline_message_hook', to.lserver, { tag: 'bounce', packet: message }),
          () => {},
        );
      }),
    );
  }

  private bounce(tag: 'bounce' | 'pass', stanza: Element, to: Jid): MaybePromise<void> {
    return andThen(this.hooks.runFold('bounce_sm_packet', to.lserver, { tag, packet: stanza }), () => {});
  }

  /** `gen_iq_handler:handle/2` (spec §10). */
  private processIq(iq: Element, to: Jid): MaybePromise<void> {
    let child: Element | undefined;
    let count = 0;
    for (const c of iq.children) {
      if (typeof c === 'string') continue;
      count++;
      child = c;
    }
    if (count === 0) return this.routeError(iq, 'bad-request', 'No child elements found');
    if (count > 1) return this.routeError(iq, 'bad-request', 'Too many child elements');
    const ns = String(child!.attrs.xmlns ?? '');
    const handler = this.iqHandlers.lookup(to.lserver, ns);
    if (handler === undefined)
      return this.routeError(iq, 'service-unavailable', 'No module is handling this query');
    const onResult = (r: Element | 'ignore'): void => {
      if (r === 'ignore') return;
      if (r !== null && typeof r === 'object' && typeof (r as Element).name === 'string') {
        this.router(r);
        return;
      }
      // ejabberd's try_clause: logged by the router, no reply.
      this.logger.error({ ns, result: r }, 'IQ handler returned neither a stanza nor ignore; no reply sent');
    };
    const onError = (error: unknown): void => {
      if (error instanceof IqDecodeError) {
        this.routeError(iq, 'bad-request', error.message);
        return;
      }
      this.logger.error({ err: error, ns }, 'IQ handler failed');
      this.routeError(iq, 'internal-server-error', 'Module failed to handle the query');
    };
    let result: MaybePromise<Element | 'ignore'>;
    try {
      result = handler(iq);
    } catch (error) {
      return onError(error);
    }
    if (isThenable(result)) return result.then(onResult, onError);
    onResult(result);
  }

  private routeError(stanza: Element, condition: StanzaErrorCondition, text?: string): void {
    const reply = makeErrorReply(stanza, condition, text);
    if (reply !== undefined) this.router(reply);
  }

  private defaultRouter(stanza: Element): void {
    const to = stanza.attrs.to;
    if (typeof to === 'string') {
      try {
        const j = parseJid(to);
        if (j.luser !== '' && this.backendByHost.has(j.lserver)) {
          void this.route(stanza);
          return;
        }
      } catch {
        // fall through
      }
    }
    this.logger.debug({ to }, 'session manager: reply to a non-local address dropped (no router configured)');
  }

  // ---- hook handlers ejabberd_sm registers (spec §12) ----

  /** `check_in_subscription/2` (seq 20): `{stop, false}` when the recipient does not exist. */
  private checkInSubscription(acc: boolean, presence: Element): MaybePromise<boolean | { stop: boolean }> {
    let to: Jid;
    try {
      to = parseJid(String(presence.attrs.to));
    } catch {
      return { stop: false };
    }
    return andThen(this.exists(to.luser, to.lserver), (exists) => (exists ? acc : { stop: false }));
  }

  /** `bounce_offline_message/1` (seq 100): bounces `{bounce, message chat|groupchat|normal}`. */
  private bounceOfflineMessage(acc: SmPacketAcc): SmPacketAcc | { stop: SmPacketAcc } {
    if (acc.tag === 'bounce' && acc.packet.name === 'message') {
      const type = acc.packet.attrs.type ?? 'normal';
      if (type === 'chat' || type === 'groupchat' || type === 'normal') return this.bounceSmPacket(acc);
    }
    return acc;
  }

  /** `bounce_sm_packet/1` (seq 100): `{bounce}` → `service-unavailable` "User session not found". */
  private bounceSmPacket(acc: SmPacketAcc): SmPacketAcc | { stop: SmPacketAcc } {
    if (acc.tag !== 'bounce') {
      this.logger.debug({ tag: acc.tag, stanza: acc.packet.name }, 'session manager: stanza dropped');
      return acc;
    }
    if (IGNORE_SM_BOUNCE.has(acc.packet)) return acc;
    this.routeError(acc.packet, 'service-unavailable', 'User session not found');
    return { stop: acc };
  }

  /** `disconnect_removed_user/2` (seq 100). */
  private disconnectRemovedUser(user: string, server: string): void {
    void this.route(jid(user, server), { type: 'exit', reason: DEFAULTS.userRemovedReason });
  }

  // ---- backend access with read-repair (spec §1.6) ----

  private backendOf(lserver: string): Backend {
    const backend = this.backendByHost.get(lserver);
    if (backend === undefined) throw new UnknownHostError(lserver);
    return backend;
  }

  private rowsOf(user: string, server: string): MaybePromise<readonly Session[]> {
    const luser = nodeprep(user);
    const lserver = nameprep(server);
    const backend = this.backendByHost.get(lserver);
    return backend === undefined ? EMPTY : this.userRows(backend, luser, lserver);
  }

  private resourceRows(user: string, server: string, resource: string): MaybePromise<readonly Session[]> {
    const lresource = resourceprep(resource);
    return andThen(this.rowsOf(user, server), (rows) => rows.filter((s) => s.lresource === lresource));
  }

  private hostRows(lserver: string): MaybePromise<readonly Session[]> {
    const backend = this.backendByHost.get(lserver);
    if (backend === undefined) return EMPTY;
    return this.guard(backend, 'getSessions', lserver, () => backend.getSessions(lserver));
  }

  private allRows(): MaybePromise<readonly Session[]> {
    const parts = this.distinctBackends.map((b) =>
      this.guard(b, 'getSessions', undefined, () => b.getSessions()),
    );
    if (parts.some(isThenable)) return Promise.all(parts).then((p) => p.flat());
    return (parts as (readonly Session[])[]).flat();
  }

  /**
   * Reads a user's rows; a failure is reported and answered as no rows (never cached), or as
   * `failed` for a caller that must tell the two apart (`READ_FAILED`, compared by identity).
   */
  private userRows(
    backend: Backend,
    luser: string,
    lserver: string,
    failed: readonly Session[] = EMPTY,
  ): MaybePromise<readonly Session[]> {
    let rows: MaybePromise<readonly Session[]>;
    try {
      rows = backend.getSessions(luser, lserver);
    } catch (error) {
      this.backendError(backend, 'getSessions', lserver, error);
      return failed;
    }
    if (isThenable(rows)) {
      return this.timed(backend, 'getSessions', rows).then(
        (r) => this.repair(backend, r),
        (error: unknown) => {
          this.backendError(backend, 'getSessions', lserver, error);
          return failed;
        },
      );
    }
    return this.repair(backend, rows);
  }

  /** A backend call's promise, failing with `BackendTimeoutError` past `backendTimeoutMs`. */
  private timed<T>(
    backend: Backend,
    operation: string,
    promise: Promise<T>,
    ms: number = this.backendTimeoutMs,
  ): Promise<T> {
    return this.timeouts.within(promise, ms, () => new BackendTimeoutError(backend.name, operation, ms));
  }

  private guard(
    backend: Backend,
    operation: string,
    host: string | undefined,
    read: () => MaybePromise<readonly Session[]>,
  ): MaybePromise<readonly Session[]> {
    let rows: MaybePromise<readonly Session[]>;
    try {
      rows = read();
    } catch (error) {
      this.backendError(backend, operation, host, error);
      return EMPTY;
    }
    if (isThenable(rows)) {
      return this.timed(backend, operation, rows).then(
        (r) => this.repair(backend, r),
        (error: unknown) => {
          this.backendError(backend, operation, host, error);
          return EMPTY;
        },
      );
    }
    return this.repair(backend, rows);
  }

  /** `delete_dead/2`: drops (and deletes) rows of dead actors on this node; remote rows are unchecked. */
  private repair(backend: Backend, rows: readonly Session[]): readonly Session[] {
    let dead = false;
    for (let i = 0; i < rows.length; i++) {
      const ref = rows[i]!.sid.ref;
      if (ref.node === this.node && !this.system.isAlive(ref)) {
        dead = true;
        break;
      }
    }
    if (!dead) return rows;
    const alive: Session[] = [];
    for (const s of rows) {
      const ref = s.sid.ref;
      if (ref.node === this.node && !this.system.isAlive(ref)) {
        const r = this.remove(backend, s);
        if (isThenable(r)) r.catch(() => {});
      } else alive.push(s);
    }
    return alive;
  }

  private write(backend: Backend, row: Session): MaybePromise<void> {
    try {
      const r = backend.setSession(row);
      if (isThenable(r)) {
        return this.timed(backend, 'setSession', r).catch((error: unknown) => {
          this.backendError(backend, 'setSession', row.lserver, error);
          throw error;
        });
      }
    } catch (error) {
      this.backendError(backend, 'setSession', row.lserver, error);
      throw error;
    }
  }

  /** `write`, but a failure is only reported (`backend_error`), as callers that ignore `set_session`'s result. */
  private writeReported(backend: Backend, row: Session): MaybePromise<void> {
    try {
      const r = this.write(backend, row);
      if (isThenable(r)) return r.catch(() => {});
    } catch {
      // reported by write
    }
  }

  private remove(backend: Backend, row: Session): MaybePromise<void> {
    try {
      const r = backend.deleteSession(row);
      if (isThenable(r)) {
        return this.timed(backend, 'deleteSession', r).catch((error: unknown) =>
          this.backendError(backend, 'deleteSession', row.lserver, error),
        );
      }
    } catch (error) {
      this.backendError(backend, 'deleteSession', row.lserver, error);
    }
  }

  private backendError(backend: Backend, operation: string, host: string | undefined, error: unknown): void {
    this.logger.error({ err: error, backend: backend.name, operation, host }, 'session backend error');
    if (this.events.has('backend_error')) {
      this.events.emit('backend_error', {
        backend: backend.name,
        operation,
        error,
        ...(host === undefined ? {} : { host }),
      });
    }
  }
}

function userInfo(s: Session): UserSessionInfo {
  return { node: s.sid.ref.node, ts: s.sid.time, ref: s.sid.ref, priority: s.priority, info: s.info };
}

/**
 * The session manager's gen_server (spec §1.2): `init` starts the backends, the IQ table, the
 * hooks and the commands; `terminate` sends `system-shutdown` to local sessions and undoes the
 * rest. Its argument is the {@link SessionManager} whose lifecycle it owns, so a supervisor child
 * spec can start it (see {@link SessionManager.childSpec}).
 */
export const sessionManagerServer: GenServer<ServerState, SessionManager> = {
  init: (sm, ctx) => sm.initServer(ctx),
  handleInfo: (message, state, ctx) => state.sm.handleServerInfo(message, state, ctx),
  terminate: (_reason, state, ctx) => state.sm.terminateServer(state, ctx),
};
