import { ActorSystem, silentLogger } from '@otp-chat/actor';
import { eventually } from '@otp-chat/actor/testing';
import { Commands, Hooks } from '@otp-chat/event-bus';
import { MemoryBackend } from '@otp-chat/session-manager';
import { connectClient, xml } from '@otp-chat/xmpp/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminMetrics, AdminServer, AdminTokens, instrumentBackend } from '../src/index.ts';
import { type AdminNode, startAdminNode } from './support/adminNode.ts';

let node: AdminNode;
beforeAll(async () => {
  node = await startAdminNode();
});
afterAll(async () => {
  await node?.stop();
});

/** The value of one sample of `/metrics` (0 when absent). */
async function sample(name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${node.admin.url}/metrics`)).text();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      return Number(line.split(' ').at(-1));
  }
  return 0;
}

/** Waits until a sample satisfies `done` (what is scraped trails what the server did). */
function sampleUntil(name: string, labels: Record<string, string>, done: (value: number) => boolean) {
  return eventually(`${name} ${JSON.stringify(labels)}`, () => sample(name, labels), done);
}

describe('/metrics', () => {
  it('follows sessions, logins, auth failures and stanzas', async () => {
    const host = { host: 'localhost' };
    const sessions = { host: 'localhost', node: 'admin-test@local' };
    expect(await sample('otp_chat_sessions', sessions)).toBe(0);
    const port = node.xmpp.address.port;
    const alice = await connectClient({ port, username: 'alice', password: 'alice', resource: 'a' });
    const bob = await connectClient({ port, username: 'bob', password: 'bob', resource: 'b' });
    expect(await sample('otp_chat_sessions', sessions)).toBe(2);
    expect(await sample('otp_chat_logins_total', host)).toBe(2);
    await expect(connectClient({ port, username: 'alice', password: 'wrong' })).rejects.toThrow();
    await sampleUntil('otp_chat_auth_failures_total', host, (n) => n === 1);
    // alice → bob: routed to a session.
    const routedBefore = await sample('otp_chat_stanzas_total', { ...host, outcome: 'routed' });
    await alice.send(xml('message', { to: 'bob@localhost/b', type: 'chat' }, xml('body', {}, 'hi')));
    await bob.waitFor((s) => s.is('message'));
    expect(await sample('otp_chat_stanzas_total', { ...host, outcome: 'routed' })).toBeGreaterThan(
      routedBefore,
    );
    await bob.stop();
    await sampleUntil('otp_chat_sessions', sessions, (n) => n === 1);
    // alice → bob, who is offline: stored (mod_offline).
    await alice.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, 'later')));
    await sampleUntil('otp_chat_stanzas_total', { ...host, outcome: 'offline' }, (n) => n === 1);
    // An iq to an offline full JID is bounced.
    await alice.send(
      xml('iq', { to: 'bob@localhost/gone', type: 'get', id: 'q1' }, xml('query', { xmlns: 'x:y' })),
    );
    await sampleUntil('otp_chat_stanzas_total', { ...host, outcome: 'bounced' }, (n) => n >= 1);
    await alice.stop();
    await sampleUntil('otp_chat_sessions', sessions, (n) => n === 0);
    expect(await sample('otp_chat_actors')).toBeGreaterThan(0);
    expect(await sample('otp_chat_longest_mailbox')).toBeGreaterThanOrEqual(0);
    // Each handler of a hook that ran is timed (mod_offline's among them).
    expect(
      await sample('otp_chat_hook_handler_duration_seconds_count', { hook: 'offline_message_hook' }),
    ).toBeGreaterThan(0);
  });

  it('counts hook handler failures and supervisor restarts', async () => {
    const failing = function failingHandler(): void {
      throw new Error('boom');
    };
    node.xmpp.hooks.add('sm_kick_user', 'localhost', failing, 10);
    await node.xmpp.hooks.run('sm_kick_user', 'localhost', 'x', 'localhost');
    node.xmpp.hooks.delete('sm_kick_user', 'localhost', failing, 10);
    expect(await sample('otp_chat_hook_handler_failures_total', { hook: 'sm_kick_user' })).toBe(1);
    // Kill the session manager's actor: its supervisor restarts it.
    const ref = node.xmpp.sm.ref!;
    node.system.exit(ref, 'kill');
    await sampleUntil('otp_chat_supervisor_restarts_total', {}, (n) => n >= 1);
  });

  it('times backend calls', async () => {
    const system = new ActorSystem({ logger: silentLogger });
    const metrics = new AdminMetrics({
      system,
      events: [],
      hooks: new Hooks({ logger: silentLogger }),
      hosts: [],
      defaultMetrics: true,
    });
    const backend = instrumentBackend(new MemoryBackend(), metrics);
    await backend.getSessions('localhost');
    const text = await metrics.metrics();
    expect(text).toMatch(
      /otp_chat_backend_call_duration_seconds_count\{backend="memory",operation="getSessions",ok="true"\} 1/,
    );
    expect(text).toMatch(/nodejs_eventloop_lag_seconds/);
    expect(text).toMatch(/process_cpu_user_seconds_total/);
    metrics.stop();
  });
});

describe('/healthz and /readyz', () => {
  it('are up; readiness follows its checks and draining', async () => {
    let reachable = true;
    const server = await AdminServer.start({
      commands: new Commands(),
      tokens: new AdminTokens(),
      port: 0,
      readiness: [
        { name: 'backend', check: () => reachable },
        { name: 'cluster', check: () => true },
      ],
    });
    try {
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({
        ready: true,
        draining: false,
        checks: { backend: { ok: true }, cluster: { ok: true } },
      });
      reachable = false;
      const down = await fetch(`${server.url}/readyz`);
      expect(down.status).toBe(503);
      expect(await down.json()).toMatchObject({ ready: false, checks: { backend: { ok: false } } });
      reachable = true;
      server.drain();
      expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  it('a check that never answers fails after the bound', async () => {
    const server = await AdminServer.start({
      commands: new Commands(),
      tokens: new AdminTokens(),
      port: 0,
      readiness: [{ name: 'frozen', check: () => new Promise<boolean>(() => {}) }],
    });
    try {
      const r = await fetch(`${server.url}/readyz`);
      expect(r.status).toBe(503);
      expect(await r.json()).toMatchObject({
        checks: { frozen: { ok: false, error: expect.stringMatching(/within/) } },
      });
    } finally {
      await server.stop();
    }
  });
});
