import { defineCommand } from '@otp-chat/event-bus';
import { nameprep, nodeprep } from '@otp-chat/jid';
import { z } from 'zod';
import { RegisterError } from './errors.ts';
import type { XmppModule } from './XmppModule.ts';

const args = z.object({ user: z.string().min(1), host: z.string().min(1), password: z.string().min(1) });
const userHost = z.object({ user: z.string().min(1), host: z.string().min(1) });

/**
 * Account commands (ejabberd's `register`, `unregister` and `registered_users` from
 * `mod_admin_extra` / `ejabberd_admin`), run through the server's `Commands` registry:
 * `register {user, host, password}` adds a user to the user store (a taken name fails with
 * `RegisterError`), `unregister` removes one and runs `remove_user` (which disconnects the user's
 * sessions with `{exit, "User removed"}` and drops offline messages).
 */
export function modRegister(): XmppModule {
  const names = ['register', 'unregister', 'registered_users'];
  return {
    name: 'mod_register',
    start(server) {
      const prep = (user: string, host: string) => {
        let luser: string;
        try {
          luser = nodeprep(user);
        } catch (cause) {
          throw new RegisterError('invalid-user', user, host, { cause });
        }
        const lserver = nameprep(host);
        if (!server.hosts.includes(lserver)) throw new RegisterError('invalid-user', user, host);
        return { luser, lserver };
      };
      server.commands.register(
        [
          defineCommand({
            name: 'register',
            tags: ['accounts'],
            description: 'Register a user',
            policy: 'admin',
            args,
            result: z.string(),
            handler: async ({ user, host, password }) => {
              const { luser, lserver } = prep(user, host);
              await server.users.register(luser, lserver, password);
              return `User ${luser}@${lserver} successfully registered`;
            },
          }),
          defineCommand({
            name: 'unregister',
            tags: ['accounts'],
            description: 'Unregister a user',
            policy: 'admin',
            args: userHost,
            result: z.boolean(),
            handler: async ({ user, host }) => {
              const { luser, lserver } = prep(user, host);
              const removed = await server.users.removeUser(luser, lserver);
              if (removed) await server.hooks.run('remove_user', lserver, luser, lserver);
              return removed;
            },
          }),
          defineCommand({
            name: 'registered_users',
            tags: ['accounts'],
            description: 'List all registered users in HOST',
            policy: 'admin',
            args: z.object({ host: z.string().min(1) }),
            result: z.array(z.string()),
            handler: ({ host }) => server.users.users(nameprep(host)),
          }),
        ],
        { definer: 'mod_register' },
      );
    },
    stop(server) {
      for (const name of names) server.commands.unregister(name);
    },
  };
}
