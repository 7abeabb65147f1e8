import { type AnyCommandSpec, defineCommand } from '@otp-chat/event-bus';
import { z } from 'zod';
import type { SessionManager } from './SessionManager.ts';

const userHost = z.object({ user: z.string().min(1), host: z.string().min(1) });

/**
 * The commands ejabberd_sm registers (`ejabberd_sm:get_commands_spec/0`), running through the
 * session manager API, never the store (processone/ejabberd#977). mod_admin_extra's session
 * commands are in `adminCommands.ts`.
 */
export function sessionManagerCommands(sm: SessionManager): AnyCommandSpec[] {
  return [
    defineCommand({
      name: 'connected_users',
      tags: ['session'],
      description: 'List all established sessions',
      policy: 'admin',
      args: z.object({}),
      result: z.array(z.string()),
      handler: () => sm.connectedUsers(),
    }),
    defineCommand({
      name: 'connected_users_number',
      tags: ['session', 'statistics'],
      description: 'Get the number of established sessions',
      policy: 'admin',
      args: z.object({}),
      result: z.number().int(),
      handler: () => sm.connectedUsersNumber(),
    }),
    defineCommand({
      name: 'user_resources',
      tags: ['session'],
      description: "List user's connected resources",
      policy: 'admin',
      args: userHost,
      result: z.array(z.string()),
      handler: ({ user, host }) => sm.userResources(user, host),
    }),
    defineCommand({
      name: 'kick_user',
      tags: ['session'],
      description: "Disconnect user's active sessions",
      args: userHost,
      result: z.number().int(),
      handler: ({ user, host }) => sm.kickUser(user, host),
    }),
    defineCommand({
      name: 'kick_user',
      version: 2,
      tags: ['session'],
      description: "Disconnect user's active sessions",
      note: 'modified in 24.06',
      args: userHost,
      result: z.object({ ok: z.string() }),
      handler: async ({ user, host }) => ({ ok: `Kicked sessions: ${await sm.kickUser(user, host)}` }),
    }),
    defineCommand({
      name: 'kick_users',
      tags: ['session'],
      description: "Disconnect all given host users' active sessions",
      note: 'added in 25.04',
      args: z.object({ host: z.string().min(1) }),
      result: z.number().int(),
      handler: ({ host }) => sm.kickUsers(host),
    }),
  ];
}
