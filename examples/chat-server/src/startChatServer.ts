import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { ActorSystem, type Logger } from '@otp-chat/actor';
import { RedisBackend } from '@otp-chat/redis-backend';
import { MemoryUserStore, modOffline, modPing, modRegister, XmppServer } from '@otp-chat/xmpp';
import type { ChatServerConfig } from './config.ts';

/**
 * A node name unique to one server: `chat-<pid>-<6 hex digits>@<hostname>`. Two servers sharing a
 * session store must have distinct names, or each resolves the other's session refs as its own
 * actors (same id, wrong connection).
 */
export function uniqueNodeName(): string {
  const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '-') || 'localhost';
  return `chat-${process.pid}-${randomBytes(3).toString('hex')}@${host}`;
}

/**
 * Starts the chat server described by `config`: users registered, modules on, listening. The node
 * is `config.node`, or a name unique to this server ({@link uniqueNodeName}).
 */
export async function startChatServer(
  config: ChatServerConfig,
  options: {
    readonly logger?: Logger;
    /** Key prefix of the Redis backend (tests share one Redis). @default 'otp-chat-example' */
    readonly redisPrefix?: string;
  } = {},
): Promise<XmppServer> {
  const system = new ActorSystem({
    node: config.node ?? uniqueNodeName(),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const users = new MemoryUserStore();
  for (const { user, password } of config.users) users.register(user, config.domain, password);
  return XmppServer.start({
    system,
    hosts: [config.domain],
    host: config.host,
    port: config.port,
    users,
    maxUserSessions: config.maxUserSessions,
    modules: [modPing(), modOffline(), modRegister()],
    ...(options.logger ? { logger: options.logger } : {}),
    ...(config.backend === 'redis'
      ? {
          backends: {
            [config.domain]: new RedisBackend({
              url: config.redisUrl,
              prefix: options.redisPrefix ?? 'otp-chat-example',
            }),
          },
        }
      : {}),
  });
}
