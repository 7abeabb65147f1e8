import {
  type ActorRef,
  type ActorSystem,
  andThen,
  type ExitReason,
  isThenable,
  type Logger,
  type MaybePromise,
  moduleLogger,
} from '@otp-chat/actor';
import { Commands, EventBus, Hooks } from '@otp-chat/event-bus';
import { Jid, jid, nameprep, nodeprep, parseJid, resourceprep } from '@otp-chat/jid';
import { type ChildSpec, Supervisor } from '@otp-chat/supervisor';
import type { Element } from '@xmpp/xml';
import type { Backend, CleanNodeResult } from './Backend.ts';
import {
  KICK,
  REPLACED,
  REREGISTER,
  RESET,
  type RouteMessage,
  type ShutdownMessage,
  SYSTEM_SHUTDOWN,
} from './ConnectionMessage.ts';
import { registerSessionManagerCodecs } from './codecs.ts';
import { DEFAULTS } from './DEFAULTS.ts';
import { BackendInitError } from './errors.ts';
import type { SmPacketAcc } from './hooks.ts';
import { type IqHandler, IqHandlerTable, type IqRouting } from './IqHandlerTable.ts';
import { awaitDown } from './internal/awaitDown.ts';
import { BackendAccess, READ_FAILED } from './internal/BackendAccess.ts';
import { backendChildSpec, childError } from './internal/backendActors.ts';
import { compareBinary } from './internal/compareBinary.ts';
import { LocalSessions } from './internal/LocalSessions.ts';
import { hostHooks, newServerRun, type ServerRun } from './internal/SessionManagerServer.ts';
import { backendContext, initErrorOf, sessionManagerTreeSpec } from './internal/sessionManagerTree.ts';
import { MemoryBackend } from './MemoryBackend.ts';
import { type PresentResource, presentResources, type RoutingEnv, routeStanza } from './routing.ts';
import {
  cleanSessionList,
  newestSession,
  oldestSession,
  type Priority,
  Session,
  type SessionInfo,
  sessionIp,
} from './Session.ts';
import { type Sid, SidFactory } from './Sid.ts';
import { makeErrorReply, type StanzaErrorCondition } from './stanzaError.ts';

/** A per-user option: a value for everyone or a function of the prepared user and host. */
export type PerUser<T> = T | ((luser: string, lserver: string) => T);

/** Options of {@link SessionManager.start}. */
export interface SessionManagerOptions {
  readonly system: ActorSystem;
  /** The virtual hosts served (prepared with nameprep). */
  readonly hosts: readonly string[];
  /** The backend of each host (`sm_db_type`, per host); hosts not listed use `defaultBackend`. */
  readonly backends?: Readonly<Record<string, Backend>>;
  /**
   * The backend of every host not listed in `backends`, hosts added at run time (`host_up`)
   * included. @default one `MemoryBackend`
   */
  readonly defaultBackend?: Backend;
  /** @default a new `Hooks` logging to `logger` */
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
  /**
   * Sends a message to a connection on another node; returns false when it cannot.
   * @default the system's distribution (`system.send` when `system.isNodeUp(ref.node)`; see
   * `@otp-chat/cluster`); false without one
   */
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

export { type ServerState, sessionManagerServer } from './internal/SessionManagerServer.ts';

/**
 * ejabberd's `ejabberd_sm`: the session table and the routing of stanzas to local users.
 *
 * As in ejabberd, whose `ejabberd_sm` functions run in the calling process, the API runs **in the caller**: `openSession`, `closeSession`, `route`
 * and the getters call the backend directly, synchronously when it answers synchronously (the
 * memory backend), so routing does not go through a mailbox. The actor ({@link sessionManagerServer},
 * started by {@link SessionManager.start} or by a supervisor) owns the lifecycle: it starts the
 * backends, the IQ table, the hooks and the commands, and at shut-down tells each local session
 * `system-shutdown`.
 *
 * Every method that reads or writes returns a plain value when the backend is synchronous and a
 * promise otherwise (`MaybePromise`): `await` works on both.
 *
 * This file holds the `ejabberd_sm` functions; the actor's callbacks are in
 * `internal/SessionManagerServer.ts`, the timed, reported and repaired backend calls in
 * `internal/BackendAccess.ts`, and this node's own index of its sessions in
 * `internal/LocalSessions.ts`.
 */
export class SessionManager {
  readonly system: ActorSystem;
  readonly hooks: Hooks;
  readonly commands: Commands;
  readonly events: EventBus;
  readonly logger: Logger;
  /** This node's name (`node()`). */
  readonly node: string;
  readonly iqHandlers = new IqHandlerTable();
  /** @internal The backends and the access to them (timed, reported, repaired). */
  readonly store: BackendAccess;
  private readonly sids: SidFactory;
  /** @internal Wall-clock milliseconds (sids, uptimes). */
  readonly wallClock: () => number;
  private readonly maxSessions: PerUser<number>;
  private readonly replaceTimeout: number | ((lserver: string) => number);
  private readonly userExists: (luser: string, lserver: string) => MaybePromise<boolean>;
  private readonly router: (stanza: Element) => void;
  /** Where the IQ handler table routes replies and logs failures. */
  private readonly iqRouting: IqRouting;
  private readonly remoteSend: ((ref: ActorRef, message: unknown) => boolean) | undefined;
  private readonly name: string;
  private readonly backendOptions: Readonly<Record<string, Backend>>;
  private readonly defaultBackend: Backend;
  private readonly preparedHosts = new Map<string, string>();
  private readonly env: RoutingEnv;
  /** The sessions whose connection lives on this node, as this node wrote them (no backend). */
  private readonly local: LocalSessions;
  /** @internal What the supervision tree (`internal/sessionManagerTree.ts`) set up for this session manager. */
  readonly run: ServerRun = newServerRun();

  constructor(options: SessionManagerOptions) {
    this.system = options.system;
    this.node = options.system.node;
    const logger = options.logger ?? options.system.logger;
    this.logger = moduleLogger(logger, 'session_manager');
    this.hooks = options.hooks ?? new Hooks({ logger });
    this.commands = options.commands ?? new Commands({ hooks: this.hooks });
    this.events = options.events ?? new EventBus();
    const hosts = options.hosts.map((h) => nameprep(h));
    this.wallClock = options.wallClock ?? Date.now;
    this.sids = new SidFactory(this.node, this.wallClock);
    this.maxSessions = options.maxUserSessions ?? DEFAULTS.maxUserSessions;
    this.replaceTimeout = options.replacedConnectionTimeoutMs ?? DEFAULTS.replacedConnectionTimeoutMs;
    this.userExists = options.userExists ?? (() => true);
    this.router = options.router ?? ((stanza) => this.defaultRouter(stanza));
    this.iqRouting = { route: this.router, logger: this.logger };
    this.remoteSend = options.remoteSend;
    this.name = options.name ?? DEFAULTS.name;
    // What this session manager sends to connections must be able to reach other nodes.
    registerSessionManagerCodecs(options.system.codecs);
    this.backendOptions = options.backends ?? {};
    this.defaultBackend = options.defaultBackend ?? new MemoryBackend();
    const byHost = new Map<string, Backend>();
    for (const host of hosts) byHost.set(host, this.backendFor(host));
    this.store = new BackendAccess({
      byHost,
      system: options.system,
      logger: this.logger,
      events: this.events,
      timeoutMs: options.backendTimeoutMs ?? DEFAULTS.backendTimeoutMs,
    });
    this.local = new LocalSessions(options.system);
    this.env = {
      deliver: (s, stanza, smCopy) => this.deliver(s, stanza, smCopy),
      subscriptionAllowed: (p, to) => this.subscriptionAllowed(p, to),
      offline: (m, to) => this.offline(m, to),
      bounce: (tag, stanza, to) => this.bounce(tag, stanza, to),
      iq: (iq, to) => this.iqHandlers.handle(iq, to.lserver, this.iqRouting),
    };
  }

  /**
   * Creates a session manager and starts its supervision tree (`ejabberd_sm:start_link/0` and the
   * backends, see {@link childSpec}). Rejects with a `BackendInitError` (whose `cause` is what the
   * backend's `init` threw) when a backend fails to start.
   */
  static async start(options: SessionManagerOptions): Promise<SessionManager> {
    const sm = new SessionManager(options);
    const result = await Supervisor.start(options.system, sessionManagerTreeSpec(sm, sm.name));
    if (result === 'ignore') throw new BackendInitError('unknown');
    if ('error' in result)
      throw initErrorOf(result.error) ?? new BackendInitError('unknown', { cause: result.error });
    sm.run.supervisor = result.ok;
    return sm;
  }

  /**
   * A child spec that starts this session manager's supervision tree under a supervisor (as
   * `ejabberd_sup` holds `ejabberd_backend_sup` and `ejabberd_sm`): a supervisor, `rest_for_one`,
   * over the backend supervisor and then the session manager's actor (registered under its name,
   * trapping exits so that a shut-down runs its `terminate`, `DEFAULTS.shutdownMs` to stop). A
   * crash of the actor restarts it alone: the store, and every session, outlive it. A restart runs
   * `init` again on the same object (hooks, commands).
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
      start: async (ctx) => {
        const result = await Supervisor.start(ctx, sessionManagerTreeSpec(this, this.name));
        if (typeof result === 'object' && 'ok' in result) this.run.supervisor = result.ok;
        return result;
      },
      restart: 'permanent',
      shutdown: 'infinity',
      type: 'supervisor',
    };
  }

  /** The actor (ejabberd's `ejabberd_sm` process), once started; a new one after each restart. */
  get ref(): ActorRef | undefined {
    return this.run.actor;
  }

  /** The supervisor of the backend supervisor and the actor, once started. */
  get supervisor(): ActorRef | undefined {
    return this.run.supervisor;
  }

  /** The virtual hosts served (prepared), in the order they came up (`host_up` adds, `host_down` removes). */
  get hosts(): readonly string[] {
    return this.store.hosts();
  }

  /**
   * The backend supervisor (ejabberd's `ejabberd_backend_sup`) the actor started, once started: a
   * `@otp-chat/supervisor` `Supervisor` with one worker per distinct backend (`whichChildren` works).
   */
  get backendSupervisor(): ActorRef | undefined {
    return this.run.backendSupervisor;
  }

  /**
   * Stops the tree: the actor first (local sessions get `system-shutdown`, hooks and commands are
   * removed), then the backends (`backend.stop`).
   */
  async stop(reason: ExitReason = 'shutdown'): Promise<void> {
    const ref = this.run.supervisor;
    if (ref === undefined || !this.system.isAlive(ref)) return;
    await this.system.stop(ref, reason);
  }

  /**
   * @internal The hook handlers the actor adds for each host at `init` and deletes at `terminate`
   * (ejabberd deletes a hook with exactly the function it added).
   */
  readonly hookHandlers = {
    checkInSubscription: (acc: boolean, presence: Element) => this.checkInSubscription(acc, presence),
    bounceOfflineMessage: (acc: SmPacketAcc) => this.bounceOfflineMessage(acc),
    bounceSmPacket: (acc: SmPacketAcc) => this.bounceSmPacket(acc),
    disconnectRemovedUser: (user: string, server: string) => {
      this.disconnectRemovedUser(user, server);
    },
    hostUp: (host: string) => this.hostUp(host),
    hostDown: (host: string) => this.hostDown(host),
  };

  // ---- virtual hosts at run time (`ejabberd_sm:host_up/1`, `host_down/1`) ----

  /** The backend a host uses: `backends[host]`, else `defaultBackend`. */
  private backendFor(lserver: string): Backend {
    return this.backendOptions[lserver] ?? this.defaultBackend;
  }

  /**
   * `host_up/1`, the `host_up` hook's handler (seq 50): serves `host` from now on, with its
   * backend (`backends[host]` or `defaultBackend`): a backend no host used yet is started under the
   * backend supervisor (its `init` gets this host), a running one is told (`backend.hostUp`); then
   * the per-host hooks. Rejects (and the host is not served) when the backend fails to start.
   * Serving a host already served does nothing.
   */
  async hostUp(host: string): Promise<void> {
    const lserver = nameprep(host);
    if (this.store.forHost(lserver) !== undefined) return;
    const backend = this.backendFor(lserver);
    if (this.store.has(backend)) {
      await backend.hostUp?.(lserver);
      this.store.serve(lserver, backend);
    } else {
      this.store.serve(lserver, backend);
      const sup = this.run.backendSupervisor;
      if (sup !== undefined && this.system.isAlive(sup)) {
        const index = this.store.backends.indexOf(backend);
        const context = backendContext(this, backend, this.run.backendIncarnation ?? '');
        const started = await Supervisor.startChild(
          this.system,
          sup,
          backendChildSpec(backend, index, context),
        );
        if ('error' in started) {
          this.store.forget(lserver);
          const e = started.error;
          const reason = typeof e === 'object' && 'startFailed' in e ? childError(e.startFailed) : e;
          throw new BackendInitError(backend.name, { cause: reason });
        }
      }
    }
    this.preparedHosts.clear();
    if (this.actorRunning()) hostHooks(this, 'add', lserver);
    this.logger.info({ host: lserver, backend: backend.name }, 'session manager: host up');
  }

  /**
   * `host_down/1`, the `host_down` hook's handler (seq 60): stops serving `host` (nothing opens or
   * is routed there any more; its sessions can still close), removes its per-host hooks, tells the
   * host's sessions on this node `system-shutdown` (`reset` while other nodes are up, so that
   * clients reconnect there) and tells its backend (`backend.hostDown`). A host not served: nothing.
   */
  async hostDown(host: string): Promise<void> {
    const lserver = nameprep(host);
    const backend = this.store.forHost(lserver);
    if (backend === undefined) return;
    this.store.retire(lserver);
    this.preparedHosts.clear();
    if (this.actorRunning()) hostHooks(this, 'delete', lserver);
    await this.tellLocalSessions(lserver);
    await backend.hostDown?.(lserver);
    this.logger.info({ host: lserver }, 'session manager: host down');
  }

  private actorRunning(): boolean {
    const actor = this.run.actor;
    return actor !== undefined && this.system.isAlive(actor);
  }

  /**
   * @internal Tells this node's sessions of `lserver` (every host when `undefined`) to end:
   * `system-shutdown` when this node is alone, `reset` when other nodes are up (`host_down/1`).
   * The connections this node knows first (no backend needed: a frozen store cannot hold it up),
   * then any other local row the store lists (bounded by the backend timeout).
   */
  async tellLocalSessions(lserver: string | undefined): Promise<void> {
    const message: ShutdownMessage = this.system.nodes().length === 0 ? SYSTEM_SHUTDOWN : RESET;
    const told = new Set<string>();
    const tell = (ref: ActorRef): void => {
      const key = ref.toString();
      if (told.has(key)) return;
      told.add(key);
      this.system.send(ref, message);
    };
    for (const ref of this.local.connections(lserver)) tell(ref);
    try {
      const mine = await this.dirtyGetMySessionsList();
      for (const s of mine) if (lserver === undefined || s.lserver === lserver) tell(s.sid.ref);
    } catch (error) {
      this.logger.error({ err: error }, 'session manager: could not list local sessions');
    }
  }

  // ---- sessions (`ejabberd_sm`'s API) ----

  /** `make_sid/0`: a new sid owned by the connection `ref` (normally the caller's `ctx.self`). */
  makeSid(ref: ActorRef): Sid {
    return this.sids.make(ref);
  }

  /**
   * `open_session/5,6`: writes the row, replaces older sessions of the same full JID
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
    const backend = this.store.of(lserver);
    const row = new Session(sid, luser, lserver, lresource, priority, info);
    // 1. write; 2. replacement and max_user_sessions checks; 3. hook (as `open_session/6`). Synchronous as
    // long as the backend answers synchronously: no closure, no promise.
    let written: MaybePromise<void>;
    try {
      written = this.store.write(backend, row);
    } catch (error) {
      // Issued now, not waited for: a synchronous failure stays synchronous.
      const undone = this.store.remove(backend, row);
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
   * once it is back (Redis) does not recreate the row of a connection that was refused (processone/ejabberd#1271).
   */
  private refuseOpen(backend: Backend, row: Session, error: unknown): Promise<never> {
    const undone = this.store.remove(backend, row);
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
    this.local.note(row);
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
    if (this.store.forHost(lserver) !== undefined && this.preparedHosts.size < MAX_PREPARED_HOSTS) {
      this.preparedHosts.set(server, lserver);
    }
    return lserver;
  }

  /** `check_for_sessions_to_replace/4`: `check_existing_resources/4`, then `check_max_sessions/2`. */
  private checkForSessionsToReplace(
    backend: Backend,
    luser: string,
    lserver: string,
    lresource: string,
  ): MaybePromise<void> {
    const rows = this.store.userRows(backend, luser, lserver);
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

  /** `check_max_sessions/2`: all rows, not deduplicated; kicks exactly the oldest. */
  private checkMaxSessions(
    backend: Backend,
    luser: string,
    lserver: string,
    known: readonly Session[] | undefined,
  ): MaybePromise<void> {
    const max = typeof this.maxSessions === 'function' ? this.maxSessions(luser, lserver) : this.maxSessions;
    // get_max_user_sessions/2: an integer is the limit; anything else (infinity, NaN, 1.5) is infinity.
    if (!Number.isInteger(max)) return;
    return andThen(known ?? this.store.userRows(backend, luser, lserver), (rows) => {
      if (rows.length <= max) return;
      const oldest = oldestSession(rows);
      if (oldest !== undefined) this.send(oldest.sid.ref, REPLACED);
    });
  }

  /**
   * `close_session/4`: deletes the row with this sid if it exists and **always** runs
   * `sm_remove_connection_hook` (with `{}` as info when there was no row). When the user's rows
   * cannot be read, the row is deleted by sid anyway (built from the sid and the prepared names,
   * `priority: undefined`) and the hook runs with `{}`: no stale row outlives an outage (processone/ejabberd#1271).
   */
  closeSession(sid: Sid, user: string, server: string, resource: string): MaybePromise<void> {
    const luser = nodeprep(user);
    const lserver = this.prepareHost(server);
    const lresource = resourceprep(resource);
    const backend = this.store.ofOpen(lserver);
    this.local.forget(sid, luser, lserver, lresource);
    const target: CloseTarget = { sid, user, server, resource, luser, lserver, lresource };
    const rows = this.store.userRows(backend, luser, lserver, READ_FAILED);
    if (isThenable(rows)) return rows.then((r) => this.closeFound(backend, r, target));
    return this.closeFound(backend, rows, target);
  }

  private closeFound(backend: Backend, rows: readonly Session[], t: CloseTarget): MaybePromise<void> {
    if (rows === READ_FAILED) {
      // The read failed (reported): delete by sid anyway, so that no stale row outlives the outage
      // (processone/ejabberd#1271); the row's priority and info are unknown, so the hook gets `{}`.
      const row = new Session(t.sid, t.luser, t.lserver, t.lresource, undefined);
      const deleted = this.store.remove(backend, row);
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
    const deleted = this.store.remove(backend, found);
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
    const backend = this.store.ofOpen(j.lserver);
    this.local.update(sid, j.luser, j.lserver, j.lresource, (s) => s.withPriority(priority));
    return andThen(this.store.userRows(backend, j.luser, j.lserver), (rows) => {
      const row = rows.find((s) => s.lresource === j.lresource && s.sid.equals(sid));
      if (row === undefined) return 'notfound' as const;
      // ejabberd ignores set_session's {error, _} here: reported (backend_error), then the hook.
      return andThen(this.store.writeReported(backend, row.withPriority(priority)), () =>
        andThen(hook(j.lserver), () => 'ok' as const),
      );
    });
  }

  /** `get_user_resources/2`: one per resource, `undefined` priorities included. */
  getUserResources(user: string, server: string): MaybePromise<string[]> {
    return andThen(this.store.rowsOf(user, server), (rows) => cleanSessionList(rows).map((s) => s.lresource));
  }

  /** `get_user_present_resources/2` (prepared args): integer priorities only, negatives included. */
  getUserPresentResources(luser: string, lserver: string): MaybePromise<PresentResource[]> {
    const backend = this.store.forHost(lserver);
    if (backend === undefined) return [];
    return andThen(this.store.userRows(backend, luser, lserver), presentResources);
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
      return andThen(this.store.rowsOf(user, server), (rows) =>
        cleanSessionList(rows).map((s) => ({ resource: s.lresource, info: userInfo(s) })),
      );
    }
    return andThen(this.store.resourceRows(user, server, resource), (rows) => {
      const s = newestSession(rows);
      return s === undefined ? ('offline' as const) : userInfo(s);
    });
  }

  /**
   * `set_user_info/5`: stores `key` in the info of the rows of this full JID **owned by `owner`**
   * (the calling connection, as ejabberd's `Pid == self()` check; esl/MongooseIM#1141).
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
    const backend = this.store.ofOpen(j.lserver);
    return andThen(this.store.userRows(backend, j.luser, j.lserver), async (all) => {
      const rows = all.filter((s) => s.lresource === j.lresource);
      if (rows.length === 0) return 'notfound' as const;
      const owned = rows.filter((s) => s.sid.ref.equals(owner));
      if (owned.length === 0) return 'not_owner' as const;
      for (const s of owned) {
        const next = s.withInfo(Object.freeze(change(s.info)));
        this.local.update(s.sid, s.luser, s.lserver, s.lresource, () => next);
        await this.store.write(backend, next);
      }
      return 'ok' as const;
    });
  }

  /** `get_user_ip/3`: the client's address and port of the newest session of the resource. */
  getUserIp(
    user: string,
    server: string,
    resource: string,
  ): MaybePromise<readonly [string, number] | undefined> {
    return andThen(this.store.resourceRows(user, server, resource), (rows) => {
      const s = newestSession(rows);
      return s === undefined ? undefined : sessionIp(s.info);
    });
  }

  /** `get_session_pid/3`: the connection of the newest session of the resource. */
  getSessionRef(user: string, server: string, resource: string): MaybePromise<ActorRef | undefined> {
    return andThen(this.store.resourceRows(user, server, resource), (rows) => newestSession(rows)?.sid.ref);
  }

  /** `get_session_sid/3`: the sid of the newest session of the resource. */
  getSessionSid(user: string, server: string, resource: string): MaybePromise<Sid | undefined> {
    return andThen(this.store.resourceRows(user, server, resource), (rows) => newestSession(rows)?.sid);
  }

  /** `get_session_sids/2,3`: every sid, not deduplicated. */
  getSessionSids(user: string, server: string, resource?: string): MaybePromise<Sid[]> {
    const rows =
      resource === undefined
        ? this.store.rowsOf(user, server)
        : this.store.resourceRows(user, server, resource);
    return andThen(rows, (r) => r.map((s) => s.sid));
  }

  /** `is_existing_resource/3`. */
  isExistingResource(user: string, server: string, resource: string): MaybePromise<boolean> {
    return andThen(this.store.resourceRows(user, server, resource), (rows) => rows.length > 0);
  }

  /** `dirty_get_sessions_list/0`: every `usr` of every backend, not deduplicated. */
  dirtyGetSessionsList(): MaybePromise<[string, string, string][]> {
    return andThen(this.store.allRows(), (rows) =>
      rows.map((s) => [s.luser, s.lserver, s.lresource] as [string, string, string]),
    );
  }

  /** `dirty_get_my_sessions_list/0`: the rows whose connection is on this node. */
  dirtyGetMySessionsList(): MaybePromise<Session[]> {
    return andThen(this.store.allRows(), (rows) => rows.filter((s) => s.sid.ref.node === this.node));
  }

  /** `get_vh_session_list/1`: every `usr` of a host, not deduplicated. */
  getVhSessionList(server: string): MaybePromise<[string, string, string][]> {
    return andThen(this.store.hostRows(nameprep(server)), (rows) =>
      rows.map((s) => [s.luser, s.lserver, s.lresource] as [string, string, string]),
    );
  }

  /** `get_vh_session_number/1`. */
  getVhSessionNumber(server: string): MaybePromise<number> {
    return andThen(this.store.hostRows(nameprep(server)), (rows) => rows.length);
  }

  /**
   * `connected_users/0`: `user@server/resource`, one per row, in the order of `lists:sort` on the
   * `{user, server, resource}` tuples (element-wise, each compared as a binary), then formatted.
   */
  connectedUsers(): MaybePromise<string[]> {
    return andThen(this.store.allRows(), (rows) =>
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
    return andThen(this.store.allRows(), (rows) => rows.length);
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
      return andThen(this.store.resourceRows(user, server, resource), (rows) => {
        const s = newestSession(rows);
        return s === undefined ? false : this.send(s.sid.ref, KICK);
      });
    }
    return andThen(this.store.rowsOf(user, server), (rows) => {
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

  /**
   * mod_admin_extra's `kick_session`: `{exit, reason}` to the session (`route/2`); to every
   * resource of the user when `resource` is empty (the bare JID, as ejabberd).
   */
  kickSession(user: string, server: string, resource: string, reason: string): MaybePromise<void> {
    return this.route(jid(user, server, resource), { type: 'exit', reason });
  }

  /**
   * Removes the rows of every connection on `node` from every backend and runs
   * `sm_remove_connection_hook` for each (beyond ejabberd, where only `ejabberd_sm_mnesia` does it,
   * without hooks), then emits `session_closed` with `reason: 'node_down'`. Works through the
   * backends' batches (`cleanNode` may yield rows as an async iterable), at most
   * `DEFAULTS.cleanBatchSize` rows between two turns of the event loop, so routing goes on
   * meanwhile. `signal` stops it between batches. Resolves with the number of rows removed; rejects
   * with the first backend error after every backend was tried (reported as `backend_error` too),
   * so that a node-down clean-up that failed is tried again.
   */
  async cleanNode(node: string, options: { readonly signal?: AbortSignal } = {}): Promise<number> {
    const signal = options.signal;
    let n = 0;
    let failure: unknown;
    for (const backend of this.store.backends) {
      if (signal?.aborted) break;
      try {
        const result: CleanNodeResult = backend.cleanNode(node);
        if (isAsyncIterable(result)) {
          const batches = result[Symbol.asyncIterator]();
          try {
            for (;;) {
              // Each batch within one backend timeout (the whole clean-up may take much longer).
              const next = await this.store.timed(backend, 'cleanNode', batches.next());
              if (next.done === true) break;
              n += await this.removedRows(next.value, signal);
              if (signal?.aborted) break;
            }
          } finally {
            // Not awaited: after a timeout the pending batch may never settle.
            void batches.return?.(undefined)?.catch(() => {});
          }
        } else {
          // All rows at once: ten timeouts for the whole of it, as before.
          const rows = isThenable(result)
            ? await this.store.timed(backend, 'cleanNode', result, 10 * this.store.timeoutMs)
            : result;
          n += await this.removedRows(rows, signal);
        }
      } catch (error) {
        this.store.error(backend, 'cleanNode', undefined, error);
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
    return n;
  }

  // ---- this node's sessions (sessions are facts of the node that holds the connection) ----

  /** Number of live sessions whose connection is on this node, as this node knows them. */
  get localSessionCount(): number {
    return this.local.size;
  }

  /**
   * Asks every live connection of this node that holds a session to write its row again
   * (`reregister`; the connection calls {@link reregisterSession} with its sid, priority and
   * info). Run when the store lost this node's rows (a backend's `storeLost`, e.g. a Redis
   * restarted without persistence). Returns the number of connections asked.
   */
  reregisterLocalSessions(): number {
    const connections = this.local.connections();
    for (const ref of connections) this.system.send(ref, REREGISTER);
    return connections.length;
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
    this.local.note(row);
    return this.store.write(this.store.of(lserver), row);
  }

  /** The hooks and events of removed rows, a bounded slice per turn of the event loop. */
  private async removedRows(rows: readonly Session[], signal: AbortSignal | undefined): Promise<number> {
    const slice = DEFAULTS.cleanBatchSize;
    for (let i = 0; i < rows.length; i++) {
      if (i > 0 && i % slice === 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (signal?.aborted) return i;
      }
      const s = rows[i]!;
      const j = new Jid(s.luser, s.lserver, s.lresource, s.luser, s.lserver, s.lresource);
      await this.hooks.run('sm_remove_connection_hook', s.lserver, s.sid, j, s.info);
      // An available session of a dead node goes unavailable (its connection cannot say so): the
      // presence module tells the user's subscribers, as when a session closes.
      if (s.priority !== undefined) {
        await this.hooks.run('unset_presence_hook', s.lserver, s.luser, s.lserver, s.lresource, 'node_down');
      }
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
    await new Promise<void>((resolve) => setImmediate(resolve));
    return rows.length;
  }

  // ---- IQ handlers (`gen_iq_handler`) ----

  /** `gen_iq_handler:add_iq_handler(ejabberd_sm, Host, NS, …)`: the last registration wins. */
  registerIqHandler(host: string, ns: string, handler: IqHandler): void {
    this.iqHandlers.register(nameprep(host), ns, handler);
  }

  /** `gen_iq_handler:remove_iq_handler(ejabberd_sm, Host, NS)`. */
  unregisterIqHandler(host: string, ns: string): boolean {
    return this.iqHandlers.unregister(nameprep(host), ns);
  }

  // ---- routing (`ejabberd_sm:route/1,2`) ----

  /** `route/1`: routes a stanza addressed to a local user (`sm_receive_packet`, then `do_route/1`). */
  route(stanza: Element): MaybePromise<void>;
  /** `route/2`: sends a raw term to the connection(s) of `to`; errors are logged. */
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
    const backend = this.store.forHost(to.lserver);
    if (backend === undefined) {
      this.logger.debug({ to: to.toString() }, 'session manager: stanza to a host not served dropped');
      return;
    }
    const rows = this.store.userRows(backend, to.luser, to.lserver, READ_FAILED);
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
      const s = this.local.get(to.luser, to.lserver, to.lresource);
      if (s !== undefined) {
        this.deliver(s, packet, false);
        return;
      }
    }
    const name = packet.name;
    const type = packet.attrs.type;
    if (name === 'iq' && to.lresource === '' && (type === 'get' || type === 'set')) {
      return this.iqHandlers.handle(packet, to.lserver, this.iqRouting);
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
      const backend = this.store.forHost(to.lserver);
      if (backend === undefined) return;
      const done = andThen(this.store.userRows(backend, to.luser, to.lserver), (rows) => {
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

  /**
   * The remote send, through `remoteSend` or the system's distribution; one that throws (an
   * unencodable message) is logged and counts as not sent (`noconnect` never raises).
   */
  private sendRemote(ref: ActorRef, message: unknown): boolean {
    try {
      if (this.remoteSend !== undefined) return this.remoteSend(ref, message);
      if (!this.system.isNodeUp(ref.node)) return false;
      this.system.send(ref, message);
      return true;
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

  private routeError(stanza: Element, condition: StanzaErrorCondition, text?: string): void {
    const reply = makeErrorReply(stanza, condition, text);
    if (reply !== undefined) this.router(reply);
  }

  private defaultRouter(stanza: Element): void {
    const to = stanza.attrs.to;
    if (typeof to === 'string') {
      try {
        const j = parseJid(to);
        if (j.luser !== '' && this.store.forHost(j.lserver) !== undefined) {
          void this.route(stanza);
          return;
        }
      } catch {
        // fall through
      }
    }
    this.logger.debug({ to }, 'session manager: reply to a non-local address dropped (no router configured)');
  }

  // ---- hook handlers ejabberd_sm registers (`ejabberd_sm:host_up/1`) ----

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
}

function isAsyncIterable(value: unknown): value is AsyncIterable<readonly Session[]> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

function userInfo(s: Session): UserSessionInfo {
  return { node: s.sid.ref.node, ts: s.sid.time, ref: s.sid.ref, priority: s.priority, info: s.info };
}
