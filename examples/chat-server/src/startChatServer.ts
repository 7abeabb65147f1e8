import { ActorSystem, type Logger } from '@otp-chat/actor';
import { RedisBackend } from '@otp-chat/redis-backend';
import { MemoryUserStore, modOffline, modPing, modRegister, XmppServer } from '@otp-chat/xmpp';
import type { ChatServerConfig } from './config.ts';

/** Starts the chat server described by `config`: users registered, modules on, listening. */
export async function startChatServer(
  config: ChatServerConfig,
  options: { readonly logger?: Logger } = {},
): Promise<XmppServer> {
  const system = new ActorSystem({
    node: 'chat@local',
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
            [config.domain]: new RedisBackend({ url: config.redisUrl, prefix: 'otp-chat-example' }),
          },
        }
      : {}),
  });
}
