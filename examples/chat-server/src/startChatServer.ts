import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ActorSystem, type Logger } from '@otp-chat/actor';
import { AdminMetrics, instrumentBackend, type ReadinessCheck } from '@otp-chat/admin';
import { Cluster } from '@otp-chat/cluster';
import { EventBus, Hooks } from '@otp-chat/event-bus';
import { nameprep, nodeprep } from '@otp-chat/jid';
import { DEFAULTS as REDIS_DEFAULTS, RedisBackend } from '@otp-chat/redis-backend';
import { SqlBackend, SqlClient } from '@otp-chat/sql-backend';
import {
  DEFAULTS,
  ensureSelfSignedCertificate,
  MemoryUserStore,
  type ModuleStore,
  modBlocking,
  modCarboncopy,
  modDisco,
  modOffline,
  modPing,
  modPresence,
  modRegister,
  modRoster,
  type PemFiles,
  RedisModuleStore,
  RegisterError,
  SqlModuleStore,
  SqlUserStore,
  type UserStore,
  type XmppListeners,
  XmppServer,
} from '@otp-chat/xmpp';
import { Redis } from 'ioredis';
import { type ChatServerConfig, clusterUrlOf } from './config.ts';
import { type ChatAdmin, startAdmin } from './startAdmin.ts';

/**
 * A node name unique to one server: `chat-<pid>-<6 hex digits>@<hostname>`. Two servers sharing a
 * session store must have distinct names, or each resolves the other's session refs as its own
 * actors (same id, wrong connection).
 */
export function uniqueNodeName(): string {
  const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '-') || 'localhost';
  return `chat-${process.pid}-${randomBytes(3).toString('hex')}@${host}`;
}

/** A running chat server: the XMPP server, and the cluster it joined (if any). */
export interface ChatServer {
  readonly system: ActorSystem;
  readonly xmpp: XmppServer;
  /** The cluster this node joined, when one is configured (`--cluster-url`, or `--backend redis`). */
  readonly cluster: Cluster | undefined;
  /** Where the XMPP listener is bound. */
  readonly address: { readonly host: string; readonly port: number };
  /** Every listener: TCP (STARTTLS), direct TLS, ws, wss. */
  readonly addresses: XmppListeners;
  /** The certificate served, if TLS is on: its files, whether it was generated at this start, its fingerprint. */
  readonly certificate: ServedCertificate | undefined;
  /** The admin API, metrics, health and observer listener, when `adminPort` asked for one. */
  readonly admin: ChatAdmin | undefined;
  /** The configuration in force (the one started with, as changed by {@link reload}). */
  readonly config: ChatServerConfig;
  /**
   * Applies a new configuration while running, as `ejabberd_config:reload/0`: virtual hosts added
   * to `vhosts` come up (users registered there, then the global `host_up` hook: the session
   * manager serves them, the XMPP server accepts and routes them and runs its modules there),
   * removed ones go down (`host_down`: their streams end with `system-shutdown`), users new to
   * `users` are registered on every host, `maxUserSessions` applies to the next logins, then the
   * global `config_reloaded` hook runs. Keys that need a restart (listen address and port, domain,
   * backend, node, cluster) keep their running value and are named in the report.
   */
  reload(next: ChatServerConfig): Promise<ReloadReport>;
  /**
   * Drains and stops: `/readyz` turns 503, the XMPP listener stops accepting and every stream ends
   * with `system-shutdown`, the node leaves the cluster, then the admin listener closes.
   */
  stop(): Promise<void>;
}

/** The certificate a chat server serves. */
interface ServedCertificate {
  readonly files: PemFiles;
  /** Self-signed, generated into the data folder (at this start when `created`). */
  readonly selfSigned: boolean;
  readonly created: boolean;
  /** SHA-256 fingerprint of the certificate in force (`AB:CD:…`). */
  readonly fingerprint256: string;
}

/** Where a generated certificate is kept by default: `examples/chat-server/data`. */
export const DEFAULT_DATA_DIR = fileURLToPath(new URL('../data', import.meta.url));

/** A listener's port: `'off'`, the one given, or the default (a free one when `port` is 0). */
function listenPort(value: number | 'off' | undefined, fallback: number, port: number): number | undefined {
  if (value === 'off') return undefined;
  return value ?? (port === 0 ? 0 : fallback);
}

/** What a {@link ChatServer.reload} changed. */
export interface ReloadReport {
  /** Virtual hosts added (`host_up`), prepared. */
  readonly hostsUp: readonly string[];
  /** Virtual hosts removed (`host_down`), prepared. */
  readonly hostsDown: readonly string[];
  /** Users registered (on every host). */
  readonly usersAdded: readonly string[];
  /** Changed keys that only a restart applies; their running values stay. */
  readonly needsRestart: readonly (keyof ChatServerConfig)[];
  /** The certificate files were read again (`'reloaded'`), there is none, or why they were not. */
  readonly certificate: 'reloaded' | 'none' | { readonly error: string };
}

/** The keys a reload cannot apply to a running server. */
const RESTART_KEYS = [
  'host',
  'port',
  'domain',
  'backend',
  'redisUrl',
  'postgresUrl',
  'node',
  'clusterUrl',
  'clusterHeartbeatMs',
  'clusterTimeoutMs',
  'tls',
  'tlsCert',
  'tlsKey',
  'dataDir',
  'starttlsRequired',
  'allowPlainWithoutTls',
  'directTlsPort',
  'websocketPort',
  'websocketSecurePort',
  'adminPort',
  'adminHost',
  'adminToken',
] as const satisfies readonly (keyof ChatServerConfig)[];

/**
 * Starts the chat server described by `config`: the node joins the cluster first when one is
 * configured (rejecting with `NodeNameTakenError` when a live node holds the name), then the XMPP
 * server starts with users registered and modules on, and a dead node's sessions are cleaned by one
 * survivor through the session manager (`sm_remove_connection_hook` for each). The node is
 * `config.node`, or a name unique to this server ({@link uniqueNodeName}).
 */
export async function startChatServer(
  config: ChatServerConfig,
  options: {
    readonly logger?: Logger;
    /** Key prefix of the Redis backend (tests share one Redis). @default 'otp-chat-example' */
    readonly redisPrefix?: string;
    /**
     * When `adminPort` cannot be bound because it is taken, go on without the admin listener (a
     * warning) instead of failing: `pnpm start`'s default port. @default false
     */
    readonly adminOptional?: boolean;
    /** The token when `adminToken` is absent. @default `$OTP_CHAT_ADMIN_TOKEN` */
    readonly adminEnvToken?: string;
  } = {},
): Promise<ChatServer> {
  const system = new ActorSystem({
    node: config.node ?? uniqueNodeName(),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const prefix = options.redisPrefix ?? 'otp-chat-example';
  const clusterUrl = clusterUrlOf(config);
  const cluster =
    clusterUrl === undefined
      ? undefined
      : await Cluster.start({
          system,
          url: clusterUrl,
          prefix: `${prefix}:cluster`,
          ...(config.clusterHeartbeatMs === undefined
            ? {}
            : { heartbeatIntervalMs: config.clusterHeartbeatMs }),
          ...(config.clusterTimeoutMs === undefined ? {} : { nodeTimeoutMs: config.clusterTimeoutMs }),
          ...(options.logger ? { logger: options.logger } : {}),
        });
  let current = config;
  const hosts = [config.domain, ...config.vhosts];
  // Hook handler failures reach the metrics through this bus; backend calls are timed.
  const events = new EventBus();
  const hooks = new Hooks({ events, ...(options.logger ? { logger: options.logger } : {}) });
  const adminPort = config.adminPort;
  const metrics =
    typeof adminPort === 'number' ? new AdminMetrics({ system, hooks, events: [events] }) : undefined;
  let pg: PostgresStores | undefined;
  let certificate: Omit<ServedCertificate, 'fingerprint256'> | undefined;
  let moduleRedis: Redis | undefined;
  let store: RedisBackend | SqlBackend | undefined;
  let users: UserStore;
  let xmpp: XmppServer;
  try {
    pg = config.backend === 'postgres' ? await postgresStores(config) : undefined;
    users = pg?.users ?? new MemoryUserStore();
    store =
      pg?.backend ??
      (config.backend === 'redis' ? new RedisBackend({ url: config.redisUrl, prefix }) : undefined);
    const sessions = store === undefined || metrics === undefined ? store : instrumentBackend(store, metrics);
    // Rosters, blocklists and offline messages in the sessions' store: a restart loses only sessions.
    if (config.backend === 'redis') {
      // The session backend's fault handling: a call to a Redis that is down fails at once, one to
      // a frozen Redis after commandTimeout, never queued (a module then logs and goes on).
      moduleRedis = new Redis(config.redisUrl, {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: REDIS_DEFAULTS.commandTimeoutMs,
        connectTimeout: REDIS_DEFAULTS.connectTimeoutMs,
        retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times - 1, 10), 2000),
      });
      moduleRedis.on('error', () => {}); // reported by the calls that fail (ModuleStoreError)
      await moduleRedis.connect();
    }
    const moduleStore: ModuleStore | undefined =
      pg?.modules ??
      (moduleRedis === undefined
        ? undefined
        : new RedisModuleStore(moduleRedis, { prefix: `${prefix}:mod` }));
    for (const host of hosts) await registerUsers(users, config.users, host);
    certificate = await certificateOf(config);
    const tls = certificate?.files;
    // A generated certificate per virtual host, chosen by the name the client asks for (SNI).
    const hostCertificates: Record<string, PemFiles> = {};
    if (certificate?.selfSigned === true) {
      for (const host of config.vhosts) hostCertificates[host] = await selfSignedFor(config, host);
    }
    const port = config.port;
    xmpp = await XmppServer.start({
      ...(tls === undefined
        ? {}
        : {
            tls,
            hostCertificates,
            starttlsRequired: config.starttlsRequired ?? false,
            ...optionalPort('directTlsPort', listenPort(config.directTlsPort, DEFAULTS.directTlsPort, port)),
            ...optionalPort(
              'websocketSecurePort',
              listenPort(config.websocketSecurePort, DEFAULTS.websocketSecurePort, port),
            ),
          }),
      ...optionalPort('websocketPort', listenPort(config.websocketPort, DEFAULTS.websocketPort, port)),
      // The demo offers PLAIN in the clear too unless told not to; its banner says so.
      allowPlainWithoutTls: config.allowPlainWithoutTls ?? true,
      system,
      hosts,
      host: config.host,
      port: config.port,
      users,
      // Read at each login, so that a reload applies to the next ones.
      maxUserSessions: () => current.maxUserSessions,
      modules: chatModules(),
      hooks,
      // XEP-0198: acks and resumption (ejabberd's example config loads mod_stream_mgmt).
      streamManagement: true,
      ...(moduleStore === undefined ? {} : { store: moduleStore }),
      ...(options.logger ? { logger: options.logger } : {}),
      // Every host on one backend (Redis or PostgreSQL), hosts added by a reload included.
      ...(sessions === undefined ? {} : { defaultBackend: sessions }),
    });
  } catch (error) {
    await pg?.client.end(0);
    moduleRedis?.disconnect();
    await cluster?.stop();
    throw error;
  }
  const sm = xmpp.sm;
  const logger = options.logger ?? system.logger;
  // Each session of a dead node runs sm_remove_connection_hook here, on the one survivor that
  // cleans that node (in the store: Redis or PostgreSQL); this handler logs it (info).
  const logRemoved = (host: string) =>
    xmpp.hooks.add(
      'sm_remove_connection_hook',
      host,
      (sid, jid) => {
        if (sid.ref.node !== system.node) {
          logger.info(
            { jid: jid.toString(), node: sid.ref.node },
            'chat-server: a dead node’s session removed',
          );
        }
      },
      100,
    );
  if (cluster !== undefined) {
    for (const host of xmpp.hosts) logRemoved(host);
    cluster.addNodeCleanup(async (node, { signal }) => {
      const removed = await sm.cleanNode(node, { signal });
      // A node that left in order closed its sessions itself: nothing to say then.
      if (removed > 0) logger.warn({ node, removed }, 'chat-server: removed the sessions of a dead node');
    });
  }
  // The certificate files are read again on a reload (SIGHUP): new handshakes get the new one.
  const reloadCertificate = (): ReloadReport['certificate'] => {
    if (xmpp.tls === undefined) return 'none';
    try {
      xmpp.reloadCertificates();
      return 'reloaded';
    } catch (error) {
      logger.error({ err: error }, 'chat-server: the certificate was not reloaded');
      return { error: (error as Error).message };
    }
  };
  let admin: ChatAdmin | undefined;
  if (typeof adminPort === 'number' && metrics !== undefined) {
    try {
      admin = await startAdmin({
        config: { ...config, adminPort },
        system,
        xmpp,
        cluster,
        metrics,
        readiness: readinessChecks(system, xmpp, cluster, store, pg),
        logger,
        envToken: options.adminEnvToken ?? process.env.OTP_CHAT_ADMIN_TOKEN,
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (options.adminOptional === true && code === 'EADDRINUSE') {
        logger.warn(
          { port: adminPort },
          'chat-server: the admin port is taken; running without the admin API',
        );
        metrics.stop();
      } else {
        await xmpp.stop();
        await cluster?.stop();
        throw error;
      }
    }
  }
  const reload = async (next: ChatServerConfig): Promise<ReloadReport> => {
    const needsRestart = RESTART_KEYS.filter((k) => next[k] !== current[k]);
    const before = new Set(xmpp.hosts);
    const wanted = [current.domain, ...next.vhosts].map((h) => nameprep(h));
    const hostsUp = wanted.filter((h) => !before.has(h));
    const hostsDown = [...before].filter((h) => !wanted.includes(h));
    const known = new Set(current.users.map((u) => u.user));
    const added = next.users.filter((u) => !known.has(u.user));
    // Users first (a new host's users exist when it comes up), then the hosts, as ejabberd_config:reload.
    for (const host of xmpp.hosts) await registerUsers(users, added, host);
    for (const host of hostsUp) await registerUsers(users, next.users, host);
    current = {
      ...next,
      ...Object.fromEntries(RESTART_KEYS.map((k) => [k, current[k]])),
    } as ChatServerConfig;
    for (const host of hostsUp) {
      if (certificate?.selfSigned === true) xmpp.setHostCertificate(host, await selfSignedFor(current, host));
      await xmpp.hooks.run('host_up', 'global', host);
      if (cluster !== undefined) logRemoved(host);
    }
    for (const host of hostsDown) {
      await xmpp.hooks.run('host_down', 'global', host);
      if (certificate?.selfSigned === true) xmpp.setHostCertificate(host, undefined);
    }
    await xmpp.hooks.run('config_reloaded', 'global');
    return {
      hostsUp,
      hostsDown,
      usersAdded: added.map((u) => u.user),
      needsRestart,
      certificate: reloadCertificate(),
    };
  };
  return {
    system,
    xmpp,
    cluster,
    get config() {
      return current;
    },
    reload,
    get address() {
      return xmpp.address;
    },
    get addresses() {
      return xmpp.addresses;
    },
    get certificate() {
      const tls = xmpp.tls;
      return certificate === undefined || tls === undefined
        ? undefined
        : { ...certificate, fingerprint256: tls.fingerprint256 };
    },
    admin,
    async stop() {
      admin?.drain();
      await xmpp.stop();
      // Not `quit` (it waits for a reply a frozen Redis never sends): the modules are stopped.
      moduleRedis?.disconnect();
      await cluster?.stop();
      await admin?.stop();
    },
  };
}

function optionalPort<K extends string>(key: K, port: number | undefined): { [P in K]?: number } {
  return (port === undefined ? {} : { [key]: port }) as { [P in K]?: number };
}

/**
 * The certificate files: `tlsCert` and `tlsKey` when given, else a self-signed certificate for
 * the domain, generated into the data folder at first start and reused after; none with TLS off.
 */
async function certificateOf(
  config: ChatServerConfig,
): Promise<Omit<ServedCertificate, 'fingerprint256'> | undefined> {
  if (config.tls === false) return undefined;
  if (config.tlsCert !== undefined && config.tlsKey !== undefined) {
    return { files: { certFile: config.tlsCert, keyFile: config.tlsKey }, selfSigned: false, created: false };
  }
  const { files, created } = await ensureSelfSignedCertificate(
    config.dataDir ?? DEFAULT_DATA_DIR,
    nameprep(config.domain),
  );
  return { files, selfSigned: true, created };
}

/** The generated certificate of a virtual host (made at its first start, kept in the data folder). */
async function selfSignedFor(config: ChatServerConfig, host: string): Promise<PemFiles> {
  return (await ensureSelfSignedCertificate(config.dataDir ?? DEFAULT_DATA_DIR, nameprep(host))).files;
}

/**
 * What `/readyz` checks: the session manager's tree is alive, the session store answers (Redis
 * connected, PostgreSQL answers `select 1`), and the cluster runs.
 */
function readinessChecks(
  system: ActorSystem,
  xmpp: XmppServer,
  cluster: Cluster | undefined,
  store: RedisBackend | SqlBackend | undefined,
  pg: PostgresStores | undefined,
): ReadinessCheck[] {
  const checks: ReadinessCheck[] = [
    {
      name: 'session_manager',
      check: () => xmpp.sm.supervisor !== undefined && system.isAlive(xmpp.sm.supervisor),
    },
  ];
  if (store instanceof RedisBackend) checks.push({ name: 'redis', check: () => store.status === 'ready' });
  if (pg !== undefined) {
    checks.push({
      name: 'postgres',
      check: async () => (await pg.client.query('readyz', 'select 1')).length === 1,
    });
  }
  if (cluster !== undefined) checks.push({ name: 'cluster', check: () => cluster.status === 'running' });
  return checks;
}

/**
 * Registers `list` on `host` under their prepared names (as logins look them up); an account that
 * exists (a restart on PostgreSQL, a host added again) keeps its password.
 */
async function registerUsers(users: UserStore, list: ChatServerConfig['users'], host: string): Promise<void> {
  const lserver = nameprep(host);
  for (const { user, password } of list) {
    try {
      await users.register(nodeprep(user), lserver, password);
    } catch (error) {
      if (!(error instanceof RegisterError && error.reason === 'exists')) throw error;
    }
  }
}

/**
 * The modules a stock client expects: ping, offline messages, in-band registration, roster and
 * subscriptions, presence, service discovery, blocking and carbons (see the README).
 */
function chatModules() {
  return [
    modPing(),
    modOffline(),
    modRegister(),
    modRoster(),
    modPresence(),
    modDisco(),
    modBlocking(),
    modCarboncopy(),
  ];
}

interface PostgresStores {
  readonly users: UserStore;
  readonly modules: ModuleStore;
  readonly backend: SqlBackend;
  readonly client: SqlClient;
}

/**
 * Sessions and accounts in one PostgreSQL database, on one pool: ejabberd's `sm` and `users`
 * tables, created or migrated at start. The session backend ends the pool when the server stops.
 */
async function postgresStores(config: ChatServerConfig): Promise<PostgresStores> {
  const client = new SqlClient({ url: config.postgresUrl });
  try {
    const users = await SqlUserStore.start(client);
    const modules = await SqlModuleStore.start(client);
    return { users, modules, backend: new SqlBackend({ client, ownsClient: true }), client };
  } catch (error) {
    await client.end(0);
    throw error;
  }
}
