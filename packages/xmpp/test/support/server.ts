import { ActorSystem, silentLogger } from '@otp-chat/actor';
import type { Backend } from '@otp-chat/session-manager';
import { MemoryUserStore } from '../../src/MemoryUserStore.ts';
import { modOffline } from '../../src/modOffline.ts';
import { modPing } from '../../src/modPing.ts';
import { modRegister } from '../../src/modRegister.ts';
import type { UserStore } from '../../src/UserStore.ts';
import { XmppServer, type XmppServerOptions } from '../../src/XmppServer.ts';

/** The accounts {@link startServer} registers (password {@link PASSWORD}). */
export const USERS = ['alice', 'bob', 'carol', 'dave', 'erin'] as const;
export const PASSWORD = 'secret';

/** A server on a free loopback port with the test users and the default modules. */
export async function startServer(
  options: Partial<Omit<XmppServerOptions, 'system'>> & { backend?: () => Backend } = {},
): Promise<{ server: XmppServer; port: number; system: ActorSystem; users: UserStore }> {
  const system = new ActorSystem({ logger: silentLogger });
  const users = options.users ?? new MemoryUserStore();
  for (const u of USERS) await users.register(u, 'localhost', PASSWORD);
  const { backend, ...rest } = options;
  const server = await XmppServer.start({
    system,
    port: 0,
    users,
    logger: silentLogger,
    modules: [modPing(), modOffline(), modRegister()],
    // The suites log in with PLAIN over plain TCP too (a loopback test).
    allowPlainWithoutTls: true,
    ...(backend === undefined ? {} : { backends: { localhost: backend() } }),
    ...rest,
  });
  return { server, port: server.address.port, system, users };
}
