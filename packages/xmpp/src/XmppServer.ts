import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server as HttpServer, type IncomingMessage } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { type ActorRef, type ActorSystem, isThenable, type Logger, moduleLogger } from '@otp-chat/actor';
import { Commands, Hooks } from '@otp-chat/event-bus';
import { type Jid, nameprep, parseJid } from '@otp-chat/jid';
import {
  type Backend,
  type IqHandler,
  IqHandlerTable,
  type IqRouting,
  makeErrorReply,
  type PerUser,
  SessionManager,
  type StanzaErrorCondition,
} from '@otp-chat/session-manager';
import { dynamicWorker, Supervisor } from '@otp-chat/supervisor';
import type { Element } from '@xmpp/xml';
import { WebSocketServer } from 'ws';
import { AuthThrottle, type AuthThrottleOptions } from './AuthThrottle.ts';
import { type C2SConnectionArgs, c2sConnectionServer } from './C2SConnection.ts';
import type { AccessRule, C2SOptions, ResourceConflict, SaslMechanism } from './C2SOptions.ts';
import type { C2SSocket } from './C2SSocket.ts';
import { DEFAULTS } from './DEFAULTS.ts';
import { XmppConfigError } from './errors.ts';
import type { C2SHost, C2SListenerInfo } from './internal/C2SHost.ts';
import { MemoryModuleStore } from './MemoryModuleStore.ts';
import { MemoryUserStore } from './MemoryUserStore.ts';
import type { ModuleStore } from './ModuleStore.ts';
import { scramDecoy } from './Scram.ts';
import { type PemFiles, type PemPair, TlsCredentials } from './TlsCredentials.ts';
import type { UserStore } from './UserStore.ts';
import { WebSocketStream } from './WebSocketStream.ts';
import type { XmppModule } from './XmppModule.ts';

/** An address a listener is bound to. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** What listens where: the TCP port always, the others when configured. */
export interface XmppListeners {
  /** RFC 6120 over TCP, STARTTLS offered when a certificate is configured. */
  readonly tcp: ListenAddress;
  /** XEP-0368 direct TLS. */
  readonly directTls?: ListenAddress;
  /** RFC 7395 over `ws://`. */
  readonly websocket?: ListenAddress;
  /** RFC 7395 over `wss://`. */
  readonly websocketSecure?: ListenAddress;
}

/** Options of {@link XmppServer.start}. Every one has a default. */
export interface XmppServerOptions {
  readonly system: ActorSystem;
  /** Virtual hosts served. @default [DEFAULTS.domain] */
  readonly hosts?: readonly string[];
  /** Listen address. @default DEFAULTS.host */
  readonly host?: string;
  /** Listen port; 0 picks a free one. @default DEFAULTS.port */
  readonly port?: number;
  /** @default a new `MemoryUserStore` */
  readonly users?: UserStore;
  /** Session backend per host (`sm_db_type`); hosts not listed use `defaultBackend`. */
  readonly backends?: Readonly<Record<string, Backend>>;
  /** The session backend of every host not in `backends`, hosts added at run time included. @default memory */
  readonly defaultBackend?: Backend;
  /** `max_user_sessions`. @default unlimited (the session manager's default) */
  readonly maxUserSessions?: PerUser<number>;
  /** @default the session manager's (1000 ms) */
  readonly replacedConnectionTimeoutMs?: number;
  readonly hooks?: Hooks;
  readonly commands?: Commands;
  /** @default the system's logger */
  readonly logger?: Logger;
  /**
   * Where modules keep rosters, blocklists and offline messages: put it in the sessions' store
   * (`RedisModuleStore`, `SqlModuleStore`) so that a restart loses only the sessions.
   * @default a new `MemoryModuleStore`
   */
  readonly store?: ModuleStore;
  /** Modules started after the session manager, stopped before it. @default [] */
  readonly modules?: readonly XmppModule[];
  readonly maxStanzaSize?: number;
  readonly shaperBytesPerSecond?: number;
  readonly shaperBurstBytes?: number;
  readonly maxAuthFailures?: number;
  readonly resourceConflict?: ResourceConflict;
  readonly negotiationTimeoutMs?: number;
  readonly mechanisms?: readonly SaslMechanism[];
  readonly access?: AccessRule;
  /** @default DEFAULTS.backlog */
  readonly backlog?: number;
  /** `pre_auth_max_stanza_size`. @default DEFAULTS.preAuthMaxStanzaSize */
  readonly preAuthMaxStanzaSize?: number;
  /** `max_stanza_elements`. @default DEFAULTS.maxStanzaElements */
  readonly maxStanzaElements?: number;
  /** `pre_auth_max_stanza_elements`. @default DEFAULTS.preAuthMaxStanzaElements */
  readonly preAuthMaxStanzaElements?: number;
  /** @default DEFAULTS.maxElementDepth */
  readonly maxElementDepth?: number;
  /** @default DEFAULTS.maxAttributes */
  readonly maxAttributes?: number;
  /** @default DEFAULTS.maxNameLength */
  readonly maxNameLength?: number;
  /** Bytes held per connection for a client that does not read. @default DEFAULTS.maxSendQueueBytes */
  readonly maxSendQueueBytes?: number;
  /** @default DEFAULTS.maxPendingInputBytes */
  readonly maxPendingInputBytes?: number;
  /** @default DEFAULTS.closeTimeoutMs */
  readonly closeTimeoutMs?: number;
  /** XEP-0198 stream management (acks and resumption). @default DEFAULTS.streamManagement (off) */
  readonly streamManagement?: boolean;
  /** @default DEFAULTS.resumeTimeoutMs */
  readonly resumeTimeoutMs?: number;
  /** @default DEFAULTS.maxAckQueue */
  readonly maxAckQueue?: number;
  /**
   * Failed-authentication accounting: an {@link AuthThrottle}, or its options.
   * @default `new AuthThrottle()` with `DEFAULTS.authThrottle`, on the system's clock
   */
  readonly authThrottle?: AuthThrottle | AuthThrottleOptions;
  /**
   * The server secret the SCRAM decoy salts of unknown users derive from (HMAC-SHA-1 of the name).
   * Set it to keep them stable across restarts, as real salts are. @default 32 random bytes per start
   */
  readonly secret?: string | Buffer;
  /** SCRAM iteration count announced for unknown users: the one real accounts use. @default DEFAULTS.scramIterations */
  readonly scramIterations?: number;
  /**
   * The certificate (ejabberd's `certfiles`): PEM strings, PEM files (reloaded by
   * {@link XmppServer.reloadCertificates}) or loaded credentials. Without one, no TLS listener
   * runs and STARTTLS is not offered.
   */
  readonly tls?: TlsCredentials | PemPair | PemFiles;
  /**
   * Certificates of particular virtual hosts, chosen by the name a client asks for (SNI; the
   * stream's domain with STARTTLS); `tls` serves the others. {@link XmppServer.setHostCertificate}
   * changes them while running.
   */
  readonly hostCertificates?: Readonly<Record<string, TlsCredentials | PemPair | PemFiles>>;
  /** Offer STARTTLS on `port` (needs `tls`). @default true when `tls` is given */
  readonly starttls?: boolean;
  /** `starttls_required`: no SASL on `port` before STARTTLS. @default false */
  readonly starttlsRequired?: boolean;
  /** Offer PLAIN on unencrypted streams too. @default false */
  readonly allowPlainWithoutTls?: boolean;
  /** Direct TLS (XEP-0368) port, 0 for a free one (needs `tls`). @default none */
  readonly directTlsPort?: number;
  /** WebSocket (RFC 7395) port, 0 for a free one. @default none */
  readonly websocketPort?: number;
  /** WebSocket over TLS port, 0 for a free one (needs `tls`). @default none */
  readonly websocketSecurePort?: number;
  /** The WebSocket endpoint's path. @default DEFAULTS.websocketPath */
  readonly websocketPath?: string;
}

function credentialsOf(tls: XmppServerOptions['tls']): TlsCredentials | undefined {
  if (tls === undefined || tls instanceof TlsCredentials) return tls;
  return 'certFile' in tls ? TlsCredentials.fromFiles(tls) : TlsCredentials.fromPem(tls);
}

function checkPort(name: string, port: number | undefined): void {
  if (port === undefined) return;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new XmppConfigError(name, port, 'an integer in 0..65535');
  }
}

/**
 * An XMPP server: the session manager, the C2S listener (RFC 6120 over TCP, no TLS) whose
 * connections are supervised actors, the local router, and the modules. ejabberd's
 * `ejabberd_listener` + `ejabberd_c2s` + `ejabberd_router` + `ejabberd_local` in one object.
 *
 * Supervision: the session manager is a root actor; connections run under a
 * `simple_one_for_one` supervisor as `temporary` children trapping exits, so stopping the
 * server ends every stream with `<system-shutdown/>` and closes every session.
 */
export class XmppServer {
  readonly system: ActorSystem;
  readonly sm: SessionManager;
  readonly users: UserStore;
  readonly hooks: Hooks;
  readonly commands: Commands;
  readonly logger: Logger;
  /** The modules' persistent store (rosters, blocklists, offline messages). */
  readonly store: ModuleStore;
  /** IQ handlers for stanzas addressed to a host itself (`ejabberd_local`'s table). */
  readonly localIq = new IqHandlerTable();
  private hostList: readonly string[];
  private hostSet: ReadonlySet<string>;
  private readonly listeners: Server[] = [];
  private readonly httpServers: HttpServer[] = [];
  private readonly webSocketServers: WebSocketServer[] = [];
  private connections: ActorRef | undefined;
  private modules: readonly XmppModule[] = [];
  private readonly sockets = new Set<Duplex>();
  private bound: { -readonly [K in keyof XmppListeners]: XmppListeners[K] } = { tcp: { host: '', port: 0 } };
  /** The certificate in force, if any. */
  readonly tls: TlsCredentials | undefined;
  /** Certificates by virtual host (SNI), prepared names. */
  private readonly hostTls = new Map<string, TlsCredentials>();
  /** Where the local IQ handler table routes replies and logs failures. */
  private readonly localRouting: IqRouting;
  /** How many times each stanza was routed again from a closing connection. */
  private readonly reroutes = new WeakMap<Element, number>();

  private constructor(
    options: XmppServerOptions,
    sm: SessionManager,
    users: UserStore,
    hooks: Hooks,
    tls: TlsCredentials | undefined,
  ) {
    this.system = options.system;
    this.sm = sm;
    this.users = users;
    this.hooks = hooks;
    this.commands = sm.commands;
    this.logger = moduleLogger(options.logger ?? options.system.logger, 'xmpp_server');
    this.store = options.store ?? new MemoryModuleStore();
    this.hostList = sm.hosts;
    this.hostSet = new Set(this.hostList);
    this.localRouting = { route: (stanza) => this.route(stanza), logger: this.logger };
    this.tls = tls;
  }

  /**
   * Prepared virtual hosts, in the order they came up: a new array when one is added or removed at
   * run time (the `host_up` and `host_down` hooks).
   */
  get hosts(): readonly string[] {
    return this.hostList;
  }

  /** The `simple_one_for_one` supervisor of the connections while the server runs (for an observer). */
  get connectionSupervisor(): ActorRef | undefined {
    return this.connections;
  }

  /** The address the TCP listener is bound to. */
  get address(): ListenAddress {
    return this.bound.tcp;
  }

  /** Every listener's address. */
  get addresses(): XmppListeners {
    return { ...this.bound };
  }

  /**
   * Reads the certificate files again (SIGHUP): new TLS handshakes (STARTTLS, direct TLS, `wss`)
   * get the new certificate, established streams keep theirs. Throws `XmppConfigError` when the
   * files do not load, keeping the certificate in force.
   */
  reloadCertificates(): void {
    this.tls?.reload();
    for (const credentials of this.hostTls.values()) credentials.reload();
  }

  /**
   * The certificate served to clients that ask for `host` (SNI, or the stream's domain with
   * STARTTLS); `undefined` removes it (the default one serves `host` then). Needs `tls`.
   */
  setHostCertificate(host: string, tls: TlsCredentials | PemPair | PemFiles | undefined): void {
    if (this.tls === undefined)
      throw new XmppConfigError('tls', undefined, 'a default certificate before host ones');
    const name = nameprep(host);
    const credentials = credentialsOf(tls);
    if (credentials === undefined) this.hostTls.delete(name);
    else this.hostTls.set(name, credentials);
  }

  /**
   * Starts the session manager, the modules, the connection supervisor and the listener.
   * Throws `XmppConfigError` for invalid options and rejects when the port cannot be bound.
   */
  static async start(options: XmppServerOptions): Promise<XmppServer> {
    const hosts = (options.hosts ?? [DEFAULTS.domain]).map((h) => nameprep(h));
    if (hosts.length === 0) throw new XmppConfigError('hosts', hosts, 'at least one host');
    const port = options.port ?? DEFAULTS.port;
    checkPort('port', port);
    checkPort('directTlsPort', options.directTlsPort);
    checkPort('websocketPort', options.websocketPort);
    checkPort('websocketSecurePort', options.websocketSecurePort);
    if (
      options.tls === undefined &&
      (options.directTlsPort !== undefined ||
        options.websocketSecurePort !== undefined ||
        options.starttlsRequired === true)
    ) {
      throw new XmppConfigError('tls', undefined, 'a certificate for direct TLS, wss or starttlsRequired');
    }
    const tls = credentialsOf(options.tls);
    const users = options.users ?? new MemoryUserStore();
    const hooks = options.hooks ?? new Hooks({ logger: options.logger ?? options.system.logger });
    let server: XmppServer | undefined;
    const sm = await SessionManager.start({
      system: options.system,
      hosts,
      hooks,
      commands: options.commands ?? new Commands({ hooks }),
      ...(options.backends === undefined ? {} : { backends: options.backends }),
      ...(options.defaultBackend === undefined ? {} : { defaultBackend: options.defaultBackend }),
      ...(options.maxUserSessions === undefined ? {} : { maxUserSessions: options.maxUserSessions }),
      ...(options.replacedConnectionTimeoutMs === undefined
        ? {}
        : { replacedConnectionTimeoutMs: options.replacedConnectionTimeoutMs }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      userExists: (luser, lserver) => users.userExists(luser, lserver),
      router: (stanza) => server?.route(stanza),
    });
    server = new XmppServer(options, sm, users, hooks, tls);
    for (const [host, certificate] of Object.entries(options.hostCertificates ?? {})) {
      server.setHostCertificate(host, certificate);
    }
    try {
      await server.startModules(options.modules ?? []);
      await server.listen(options, port);
    } catch (error) {
      await server.stop();
      throw error;
    }
    const seq = DEFAULTS.hostHookSeq;
    hooks.add('host_up', 'global', server.onHostUp, seq.up);
    hooks.add('host_down', 'global', server.onHostDown, seq.down);
    return server;
  }

  /**
   * `host_up` (gen_mod's `start_modules/1`, seq 40; ejabberd_local's route): the server accepts
   * streams to the new host and routes to it, and its modules run there: they are stopped and
   * started again over the new list of hosts (a module's `start` and `stop` act on
   * `server.hosts`). The session manager serves the host at seq 50.
   */
  private readonly onHostUp = async (host: string): Promise<void> => {
    const lserver = nameprep(host);
    if (this.hostSet.has(lserver)) return;
    await this.changeHosts([...this.hostList, lserver]);
    this.logger.info({ host: lserver }, 'xmpp server: host up');
  };

  /**
   * `host_down` (gen_mod's `stop_modules/1`, seq 70, after the session manager told the host's
   * sessions to end at seq 60): streams to the host are refused (`host-unknown`) and stanzas to
   * it are not routed any more; the modules run on the other hosts only.
   */
  private readonly onHostDown = async (host: string): Promise<void> => {
    const lserver = nameprep(host);
    if (!this.hostSet.has(lserver)) return;
    await this.changeHosts(this.hostList.filter((h) => h !== lserver));
    this.logger.info({ host: lserver }, 'xmpp server: host down');
  };

  private async changeHosts(hosts: readonly string[]): Promise<void> {
    const modules = this.modules;
    await this.stopModules();
    this.hostList = Object.freeze([...hosts]);
    this.hostSet = new Set(hosts);
    await this.startModules(modules);
  }

  private async stopModules(): Promise<void> {
    const modules = this.modules;
    this.modules = [];
    for (const m of [...modules].reverse()) {
      try {
        await m.stop?.(this);
      } catch (error) {
        this.logger.error({ err: error, module: m.name }, 'module stop failed');
      }
    }
  }

  private async startModules(modules: readonly XmppModule[]): Promise<void> {
    const started: XmppModule[] = [];
    this.modules = started;
    for (const m of modules) {
      await m.start(this);
      started.push(m);
    }
  }

  private async listen(options: XmppServerOptions, port: number): Promise<void> {
    const c2s: C2SOptions = {
      maxStanzaSize: options.maxStanzaSize ?? DEFAULTS.maxStanzaSize,
      shaperBytesPerSecond: options.shaperBytesPerSecond ?? DEFAULTS.shaperBytesPerSecond,
      shaperBurstBytes: options.shaperBurstBytes ?? DEFAULTS.shaperBurstBytes,
      maxAuthFailures: options.maxAuthFailures ?? DEFAULTS.maxAuthFailures,
      resourceConflict: options.resourceConflict ?? DEFAULTS.resourceConflict,
      negotiationTimeoutMs: options.negotiationTimeoutMs ?? DEFAULTS.negotiationTimeoutMs,
      mechanisms: options.mechanisms ?? DEFAULTS.mechanisms,
      allowPlainWithoutTls: options.allowPlainWithoutTls ?? false,
      access: options.access ?? (() => 'allow'),
      preAuthMaxStanzaSize: options.preAuthMaxStanzaSize ?? DEFAULTS.preAuthMaxStanzaSize,
      maxStanzaElements: options.maxStanzaElements ?? DEFAULTS.maxStanzaElements,
      preAuthMaxStanzaElements: options.preAuthMaxStanzaElements ?? DEFAULTS.preAuthMaxStanzaElements,
      maxElementDepth: options.maxElementDepth ?? DEFAULTS.maxElementDepth,
      maxAttributes: options.maxAttributes ?? DEFAULTS.maxAttributes,
      maxNameLength: options.maxNameLength ?? DEFAULTS.maxNameLength,
      maxSendQueueBytes: options.maxSendQueueBytes ?? DEFAULTS.maxSendQueueBytes,
      maxPendingInputBytes: options.maxPendingInputBytes ?? DEFAULTS.maxPendingInputBytes,
      closeTimeoutMs: options.closeTimeoutMs ?? DEFAULTS.closeTimeoutMs,
      streamManagement: options.streamManagement ?? DEFAULTS.streamManagement,
      resumeTimeoutMs: options.resumeTimeoutMs ?? DEFAULTS.resumeTimeoutMs,
      maxAckQueue: options.maxAckQueue ?? DEFAULTS.maxAckQueue,
    };
    const throttle =
      options.authThrottle instanceof AuthThrottle
        ? options.authThrottle
        : new AuthThrottle({ clock: this.system.clock, ...options.authThrottle });
    const secret =
      options.secret === undefined
        ? randomBytes(32)
        : typeof options.secret === 'string'
          ? Buffer.from(options.secret)
          : options.secret;
    const iterations = options.scramIterations ?? DEFAULTS.scramIterations;
    const server = this;
    const logger = moduleLogger(this.logger, 'c2s');
    const tls = this.tls;
    // One host per listener: the same server, the transport facts of that listener.
    const hostFor = (listener: C2SListenerInfo): C2SHost => ({
      listener,
      sm: this.sm,
      users: this.users,
      hooks: this.hooks,
      logger,
      get hosts() {
        return server.hosts;
      },
      options: c2s,
      route: (stanza, to) => this.routeTo(stanza, to),
      reroute: (stanza) => this.reroute(stanza),
      throttle,
      scramDecoy: (username, lserver) => ({
        salt: scramDecoy(secret, `${lserver}\0${username}`),
        iterations,
      }),
    });
    const started = await Supervisor.start(this.system, {
      strategy: 'simple_one_for_one',
      intensity: 1000,
      period: 1,
      children: [
        dynamicWorker('c2s', c2sConnectionServer, (args) => args as C2SConnectionArgs, {
          restart: 'temporary',
          shutdown: 5000,
          trapExit: true,
        }),
      ],
    });
    if (typeof started !== 'object' || !('ok' in started)) {
      throw new XmppConfigError('supervisor', started, 'the connection supervisor did not start');
    }
    const sup = started.ok;
    this.connections = sup;
    const address = options.host ?? DEFAULTS.host;
    const backlog = options.backlog ?? DEFAULTS.backlog;
    const starttls =
      tls === undefined || options.starttls === false
        ? 'none'
        : options.starttlsRequired
          ? 'required'
          : 'optional';
    const timeoutMs = c2s.negotiationTimeoutMs;
    const startTls =
      tls === undefined
        ? undefined
        : (socket: Socket, host?: string) => this.startTls(socket, timeoutMs, host);
    const tcpHost = hostFor({ starttls, conn: 'c2s', tls, startTls });
    this.bound.tcp = await this.listenOn(address, port, backlog, (socket) =>
      this.accept(sup, tcpHost, socket),
    );
    if (tls !== undefined && options.directTlsPort !== undefined) {
      const tlsHost = hostFor({ starttls: 'none', conn: 'c2s_tls', tls, startTls });
      this.bound.directTls = await this.listenOn(address, options.directTlsPort, backlog, (socket) =>
        this.accept(sup, tlsHost, this.startTls(socket, timeoutMs)),
      );
    }
    const path = options.websocketPath ?? DEFAULTS.websocketPath;
    if (options.websocketPort !== undefined) {
      const ws = this.webSocketEndpoint(
        sup,
        hostFor({ starttls: 'none', conn: 'websocket', tls, startTls }),
        path,
        c2s,
      );
      this.bound.websocket = await this.listenOn(address, options.websocketPort, backlog, (socket) =>
        this.track(ws, socket),
      );
    }
    if (tls !== undefined && options.websocketSecurePort !== undefined) {
      const wss = this.webSocketEndpoint(
        sup,
        hostFor({ starttls: 'none', conn: 'websocket', tls, startTls }),
        path,
        c2s,
      );
      this.bound.websocketSecure = await this.listenOn(
        address,
        options.websocketSecurePort,
        backlog,
        (socket) => this.track(wss, this.startTls(socket, timeoutMs)),
      );
    }
  }

  private async listenOn(
    host: string,
    port: number,
    backlog: number,
    onSocket: (socket: Socket) => void,
  ): Promise<ListenAddress> {
    const listener = createServer({ noDelay: true }, onSocket);
    this.listeners.push(listener);
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen({ host, port, backlog }, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    listener.on('error', (error) => this.logger.error({ err: error }, 'c2s listener error'));
    const addr = listener.address();
    return addr !== null && typeof addr === 'object'
      ? { host: addr.address, port: addr.port }
      : { host, port };
  }

  /**
   * TLS on an accepted socket, server side (direct TLS, `wss`, STARTTLS): the certificate of the
   * host the client names (SNI), else the default one, as in force now (a reload applies to the
   * next handshake). A handshake that does not finish within the negotiation timeout is cut.
   */
  private startTls(socket: Socket, timeoutMs: number, host?: string): TLSSocket {
    socket.on('error', () => {});
    const tls = this.tls!;
    const secure = new TLSSocket(socket, {
      isServer: true,
      secureContext: ((host === undefined ? undefined : this.hostTls.get(host)) ?? tls).secureContext,
      SNICallback: (name, done) => done(null, (this.hostTls.get(name.toLowerCase()) ?? tls).secureContext),
    });
    // Tracked for stop() as the TLS socket, not the one under it: destroying a socket under a
    // live TLS layer crashes Node 20 (a segfault at exit).
    if (this.sockets.delete(socket)) {
      this.sockets.add(secure);
      secure.once('close', () => this.sockets.delete(secure));
    }
    const timer = setTimeout(() => secure.destroy(), timeoutMs);
    timer.unref();
    secure.once('secure', () => clearTimeout(timer));
    secure.once('close', () => clearTimeout(timer));
    return secure;
  }

  /**
   * An HTTP endpoint that upgrades `path` to an RFC 7395 WebSocket (subprotocol `xmpp`, messages
   * no larger than the largest stanza) and starts a connection on it; everything else is 404.
   */
  private webSocketEndpoint(sup: ActorRef, host: C2SHost, path: string, c2s: C2SOptions): HttpServer {
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: Math.max(c2s.maxStanzaSize, c2s.preAuthMaxStanzaSize) + 1024,
      handleProtocols: (protocols) => (protocols.has('xmpp') ? 'xmpp' : false),
    });
    this.webSocketServers.push(wss);
    const http = createHttpServer(
      { headersTimeout: c2s.negotiationTimeoutMs, requestTimeout: c2s.negotiationTimeoutMs },
      (_req, res) => {
        res
          .writeHead(404, { 'content-type': 'text/plain' })
          .end('XMPP over WebSocket lives at ' + path + '\n');
      },
    );
    this.httpServers.push(http);
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const protocols = String(req.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((p) => p.trim());
      if (new URL(req.url ?? '/', 'http://x').pathname !== path || !protocols.includes('xmpp')) {
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        this.startConnection(sup, host, new WebSocketStream(ws, req.socket));
      });
    });
    return http;
  }

  /** Hands a raw socket to an HTTP server (for a WebSocket upgrade), tracked for shutdown. */
  private track(http: HttpServer, socket: Duplex): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    http.emit('connection', socket);
  }

  private accept(sup: ActorRef, host: C2SHost, socket: Socket | TLSSocket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    this.startConnection(sup, host, socket);
  }

  private startConnection(sup: ActorRef, host: C2SHost, socket: C2SSocket & Duplex): void {
    const args: C2SConnectionArgs = { socket, host };
    Supervisor.startChild(this.system, sup, args).then(
      (result) => {
        if (typeof result !== 'object' || !('ok' in result)) socket.destroy();
      },
      () => socket.destroy(),
    );
  }

  /** Registers a handler for IQs addressed to `host` itself (`ejabberd_local`). */
  registerLocalIqHandler(host: string, ns: string, handler: IqHandler): void {
    this.localIq.register(nameprep(host), ns, handler);
  }

  unregisterLocalIqHandler(host: string, ns: string): boolean {
    return this.localIq.unregister(nameprep(host), ns);
  }

  /** `ejabberd_router:route/1`: routes a stanza by its `to`. Stanzas to invalid JIDs are dropped. */
  route(stanza: Element): void {
    let to: Jid;
    try {
      to = parseJid(String(stanza.attrs.to ?? ''));
    } catch {
      this.logger.debug({ to: stanza.attrs.to }, 'router: stanza to an invalid JID dropped');
      return;
    }
    this.routeTo(stanza, to);
  }

  private routeTo(stanza: Element, to: Jid): void {
    try {
      if (!this.hostSet.has(to.lserver)) {
        // No s2s: any other domain is unreachable.
        this.replyError(stanza, 'remote-server-not-found');
        return;
      }
      if (to.luser === '') {
        this.routeLocal(stanza, to);
        return;
      }
      const r = this.sm.route(stanza);
      if (isThenable(r)) {
        r.catch((error: unknown) => this.routingFailed(stanza, error));
      }
    } catch (error) {
      this.routingFailed(stanza, error);
    }
  }

  /**
   * Routes again a stanza a closing connection held (ejabberd's `bounce_message_queue`):
   * another resource, offline storage or an error to the sender. After `DEFAULTS.maxReroutes`
   * times (it keeps coming back to closing connections) its sender gets `service-unavailable`.
   */
  reroute(stanza: Element): void {
    const n = (this.reroutes.get(stanza) ?? 0) + 1;
    if (n > DEFAULTS.maxReroutes) {
      this.logger.warn({ to: stanza.attrs.to }, 'router: a stanza kept bouncing; answered with an error');
      this.replyError(stanza, 'service-unavailable');
      return;
    }
    this.reroutes.set(stanza, n);
    this.route(stanza);
  }

  private routingFailed(stanza: Element, error: unknown): void {
    this.logger.error({ err: error, to: stanza.attrs.to }, 'router: routing failed');
    this.replyError(stanza, 'internal-server-error');
  }

  /**
   * Stanzas to a host itself (`ejabberd_local:route/1`): an IQ goes through the local IQ handler
   * table (`gen_iq_handler:handle/2`, the session manager's dispatcher: the same errors and
   * texts); other stanzas are dropped.
   */
  private routeLocal(stanza: Element, to: Jid): void {
    if (stanza.name !== 'iq') return;
    const r = this.localIq.handle(stanza, to.lserver, this.localRouting);
    if (isThenable(r)) r.catch((error: unknown) => this.routingFailed(stanza, error));
  }

  private replyError(stanza: Element, condition: StanzaErrorCondition): void {
    const reply = makeErrorReply(stanza, condition);
    if (reply === undefined || reply.attrs.to === undefined) return;
    this.route(reply);
  }

  /**
   * Stops accepting, ends every connection (`<system-shutdown/>`; each closes its session), stops
   * the modules, then the session manager. Idempotent.
   */
  async stop(): Promise<void> {
    const listeners = this.listeners.splice(0);
    const closed = Promise.all(listeners.map((l) => new Promise<void>((r) => l.close(() => r()))));
    const sup = this.connections;
    this.connections = undefined;
    if (sup !== undefined && this.system.isAlive(sup)) await this.system.stop(sup, 'shutdown');
    for (const wss of this.webSocketServers.splice(0)) wss.close();
    for (const http of this.httpServers.splice(0)) http.close();
    for (const socket of this.sockets) socket.destroy();
    await closed;
    const seq = DEFAULTS.hostHookSeq;
    this.hooks.delete('host_up', 'global', this.onHostUp, seq.up);
    this.hooks.delete('host_down', 'global', this.onHostDown, seq.down);
    await this.stopModules();
    await this.sm.stop();
  }
}
