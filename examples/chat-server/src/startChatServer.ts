import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { ActorSystem, type Logger } from '@otp-chat/actor';
import { Cluster } from '@otp-chat/cluster';
import { RedisBackend } from '@otp-chat/redis-backend';
import { SqlBackend, SqlClient } from '@otp-chat/sql-backend';
import {
  MemoryUserStore,
  modOffline,
  modPing,
  modRegister,
  RegisterError,
  SqlUserStore,
  type UserStore,
  XmppServer,
} from '@otp-chat/xmpp';
import { type ChatServerConfig, clusterUrlOf } from './config.ts';

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
  /**
   * The cluster this node joined, when one is configured (`--cluster-url`; by default with
   * `--backend redis`, never by default with `--backend postgres`).
   */
  readonly cluster: Cluster | undefined;
  /** Where the XMPP listener is bound. */
  readonly address: { readonly host: string; readonly port: number };
  /** Stops the XMPP server (every stream ends with `system-shutdown`), then leaves the cluster. */
  stop(): Promise<void>;
}

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
  let pg: PostgresStores | undefined;
  let xmpp: XmppServer;
  try {
    pg = config.backend === 'postgres' ? await postgresStores(config) : undefined;
    const users: UserStore = pg?.users ?? new MemoryUserStore();
    const sessions =
      pg?.backend ??
      (config.backend === 'redis' ? new RedisBackend({ url: config.redisUrl, prefix }) : undefined);
    for (const { user, password } of config.users) {
      try {
        await users.register(user, config.domain, password);
      } catch (error) {
        // A demo account already in the database keeps its password.
        if (!(error instanceof RegisterError && error.reason === 'exists')) throw error;
      }
    }
    xmpp = await XmppServer.start({
      system,
      hosts: [config.domain],
      host: config.host,
      port: config.port,
      users,
      maxUserSessions: config.maxUserSessions,
      modules: [modPing(), modOffline(), modRegister()],
      ...(options.logger ? { logger: options.logger } : {}),
      ...(sessions === undefined ? {} : { backends: { [config.domain]: sessions } }),
    });
  } catch (error) {
    await pg?.client.end(0);
    await cluster?.stop();
    throw error;
  }
  const sm = xmpp.sm;
  if (cluster !== undefined) {
    const logger = options.logger ?? system.logger;
    // Each session of a dead node runs sm_remove_connection_hook here, on the one survivor that
    // cleans that node (in the store: Redis or PostgreSQL); this handler logs it (info).
    xmpp.hooks.add(
      'sm_remove_connection_hook',
      config.domain,
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
    cluster.addNodeCleanup(async (node, { signal }) => {
      const removed = await sm.cleanNode(node, { signal });
      // A node that left in order closed its sessions itself: nothing to say then.
      if (removed > 0) logger.warn({ node, removed }, 'chat-server: removed the sessions of a dead node');
    });
  }
  return {
    system,
    xmpp,
    cluster,
    get address() {
      return xmpp.address;
    },
    async stop() {
      await xmpp.stop();
      await cluster?.stop();
    },
  };
}

interface PostgresStores {
  readonly users: UserStore;
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
    return { users, backend: new SqlBackend({ client, ownsClient: true }), client };
  } catch (error) {
    await client.end(0);
    throw error;
  }
}
