import { ActorSystem, type Logger } from '@otp-chat/actor';
import { RedisBackend } from '@otp-chat/redis-backend';
import type { Backend } from '@otp-chat/session-manager';
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
  const pg = config.backend === 'postgres' ? await postgresStores(config) : undefined;
  const users: UserStore = pg?.users ?? new MemoryUserStore();
  const sessions: Backend | undefined =
    pg?.backend ??
    (config.backend === 'redis'
      ? new RedisBackend({ url: config.redisUrl, prefix: 'otp-chat-example' })
      : undefined);
  try {
    for (const { user, password } of config.users) {
      try {
        await users.register(user, config.domain, password);
      } catch (error) {
        // A demo account already in the database keeps its password.
        if (!(error instanceof RegisterError && error.reason === 'exists')) throw error;
      }
    }
    return await XmppServer.start({
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
    throw error;
  }
}

/**
 * Sessions and accounts in one PostgreSQL database, on one pool: ejabberd's `sm` and `users`
 * tables, created or migrated at start. The session backend ends the pool when the server stops.
 */
async function postgresStores(
  config: ChatServerConfig,
): Promise<{ users: UserStore; backend: Backend; client: SqlClient }> {
  const client = new SqlClient({ url: config.postgresUrl });
  try {
    const users = await SqlUserStore.start(client);
    return { users, backend: new SqlBackend({ client, ownsClient: true }), client };
  } catch (error) {
    await client.end(0);
    throw error;
  }
}
