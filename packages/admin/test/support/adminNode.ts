import { ActorSystem, silentLogger } from '@otp-chat/actor';
import { defineCommand, EventBus, Hooks } from '@otp-chat/event-bus';
import { MemoryUserStore, modOffline, modPing, modRegister, XmppServer } from '@otp-chat/xmpp';
import { z } from 'zod';
import {
  AdminMetrics,
  AdminServer,
  AdminTokens,
  nodeCommands,
  Observer,
  SupervisionWatch,
} from '../../src/index.ts';

/** The tokens of a test node, one per caller kind, and one revoked. */
export const TOKENS = {
  local: 'local-token-0123456789abcdef',
  admin: 'admin-token-0123456789abcdef',
  user: 'alice-token-0123456789abcdef',
  revoked: 'revoked-token-0123456789abcdef',
} as const;

/** Two commands the server itself does not have: an `open` one and a `user` one. */
const TEST_COMMANDS = [
  defineCommand({
    name: 'test_open',
    description: 'An open command: anyone may run it',
    policy: 'open',
    args: z.object({ echo: z.string().max(100).optional() }),
    result: z.string(),
    handler: ({ echo }) => echo ?? 'pong',
  }),
  defineCommand({
    name: 'test_own',
    description: 'A user command: a user runs it on their own account',
    policy: 'user',
    args: z.object({ suffix: z.string().max(100).default('') }),
    result: z.string(),
    handler: ({ user, host, suffix }) => `${user}@${host}${suffix}`,
  }),
];

export interface AdminNode {
  readonly system: ActorSystem;
  readonly xmpp: XmppServer;
  readonly admin: AdminServer;
  readonly tokens: AdminTokens;
  readonly metrics: AdminMetrics;
  readonly supervision: SupervisionWatch;
  stop(): Promise<void>;
}

/** An XMPP server (alice and bob, password = name) with its admin server, both on free loopback ports. */
export async function startAdminNode(): Promise<AdminNode> {
  const system = new ActorSystem({ node: 'admin-test@local', logger: silentLogger });
  const events = new EventBus();
  const hooks = new Hooks({ events, logger: silentLogger });
  const users = new MemoryUserStore();
  for (const u of ['alice', 'bob']) await users.register(u, 'localhost', u);
  const xmpp = await XmppServer.start({
    system,
    port: 0,
    hosts: ['localhost'],
    users,
    hooks,
    logger: silentLogger,
    modules: [modPing(), modOffline(), modRegister()],
    // The tests' clients log in with PLAIN over plain TCP (loopback, no TLS configured).
    allowPlainWithoutTls: true,
  });
  const started = Date.now();
  xmpp.commands.register(TEST_COMMANDS, { definer: 'test' });
  xmpp.commands.register(
    nodeCommands({
      system,
      state: () => 'started',
      uptimeSeconds: () => (Date.now() - started) / 1000,
      sessions: () => xmpp.sm.connectedUsersNumber(),
    }),
    { definer: 'admin' },
  );
  const tokens = new AdminTokens()
    .add(TOKENS.local, { kind: 'local' })
    .add(TOKENS.admin, { kind: 'admin', user: 'root', host: 'localhost' })
    .add(TOKENS.user, { kind: 'user', user: 'alice', host: 'localhost' })
    .add(TOKENS.revoked, { kind: 'admin', user: 'old', host: 'localhost' });
  tokens.revoke(TOKENS.revoked);
  const supervision = new SupervisionWatch(system, [
    { label: 'session manager', ref: () => xmpp.sm.supervisor },
    { label: 'c2s connections', ref: () => xmpp.connectionSupervisor },
  ]);
  const metrics = new AdminMetrics({
    system,
    events: [events, xmpp.sm.events],
    hooks,
    hosts: xmpp.hosts,
    supervision,
    defaultMetrics: false,
  });
  const observer = new Observer({ system, sm: xmpp.sm, hooks, supervision, intervalMs: 200 });
  await supervision.tree();
  const admin = await AdminServer.start({ commands: xmpp.commands, tokens, port: 0, metrics, observer });
  return {
    system,
    xmpp,
    admin,
    tokens,
    metrics,
    supervision,
    async stop() {
      await admin.stop();
      metrics.stop();
      await supervision.stop();
      await xmpp.stop();
    },
  };
}

/** `POST /api/<command>` with `body` as JSON and the token, if any; the status and the parsed answer. */
export async function post(
  url: string,
  command: string,
  body: unknown,
  token?: string,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${url}/api/${command}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}
