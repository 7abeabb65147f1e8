import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { ActorSystem, type Logger } from '@otp-chat/actor';
import { Cluster } from '@otp-chat/cluster';
import { RedisBackend } from '@otp-chat/redis-backend';
import { MemoryUserStore, modOffline, modPing, modRegister, XmppServer } from '@otp-chat/xmpp';
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
  /** The cluster this node joined, when one is configured (`--cluster-url`, or `--backend redis`). */
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
  const users = new MemoryUserStore();
  for (const { user, password } of config.users) users.register(user, config.domain, password);
  let xmpp: XmppServer;
  try {
    xmpp = await XmppServer.start({
      system,
      hosts: [config.domain],
      host: config.host,
      port: config.port,
      users,
      maxUserSessions: config.maxUserSessions,
      modules: [modPing(), modOffline(), modRegister()],
      ...(options.logger ? { logger: options.logger } : {}),
      ...(config.backend === 'redis'
        ? { backends: { [config.domain]: new RedisBackend({ url: config.redisUrl, prefix }) } }
        : {}),
    });
  } catch (error) {
    await cluster?.stop();
    throw error;
  }
  const sm = xmpp.sm;
  cluster?.addNodeCleanup((node, { signal }) => sm.cleanNode(node, { signal }));
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
