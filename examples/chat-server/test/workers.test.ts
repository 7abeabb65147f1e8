// `--workers N` with real processes: a primary (examples/chat-server's main.ts) forking N workers
// on one port, each a node of the cluster on one Redis; real @xmpp/client sessions spread over them
// by the primary's round-robin, a message across workers, a worker killed (restarted under its
// name, its sessions cleaned by the survivor), SIGTERM stopping them all, a worker that cannot start.
// Every process always exits (ChatNode.stopAll, SIGKILL after 10 s).
import { silentLogger, systemClock } from '@otp-chat/actor';
import { eventually } from '@otp-chat/actor/testing';
import { RedisBackend } from '@otp-chat/redis-backend';
import { canRunRedisTests, startTestRedis, type TestRedis } from '@otp-chat/redis-backend/testing';
import { connectClient, type TestClient, xml } from '@otp-chat/xmpp/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChatNode } from './support/ChatNode.ts';
import './support/trustCertificate.ts';

const FAST = ['--cluster-heartbeat', '100', '--cluster-timeout', '700'];
const USERS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];

describe.skipIf(!canRunRedisTests('chat-server --workers'))('chat-server --workers', () => {
  let redis: TestRedis;
  const clients: TestClient[] = [];
  const stores: RedisBackend[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
    await ChatNode.stopAll();
    await Promise.all(stores.splice(0).map((s) => s.stop()));
  });
  afterAll(async () => {
    await ChatNode.stopAll();
    await redis?.stop();
  });

  let db = 0;
  /** A primary with `n` workers on a fresh Redis database, and a reader of its session store. */
  async function primary(n: number): Promise<{ node: ChatNode; store: RedisBackend }> {
    const url = `${redis.url}/${++db}`;
    const node = await ChatNode.start([
      '--backend',
      'redis',
      '--redis-url',
      url,
      '--workers',
      String(n),
      ...FAST,
      ...USERS.flatMap((u) => ['--user', `${u}:${u}`]),
    ]);
    const store = new RedisBackend({ url, prefix: 'otp-chat-example' });
    stores.push(store);
    await store.init({
      node: 'observer@localhost',
      hosts: ['localhost'],
      logger: silentLogger,
      clock: systemClock,
    });
    return { node, store };
  }

  async function login(node: ChatNode, username: string): Promise<TestClient> {
    const c = await connectClient({ port: node.port, username, password: username, resource: 'r' });
    clients.push(c);
    return c;
  }

  /** The node each user's session is on, from the shared store. */
  async function nodesOf(store: RedisBackend): Promise<Map<string, string>> {
    const rows = await store.getSessions('localhost');
    return new Map(rows.map((r) => [r.luser, r.sid.ref.node]));
  }

  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('N workers under their own node names share one port; sessions spread over them and chat across them', async () => {
    const { node, store } = await primary(2);
    const workers = node.workers();
    expect([...workers.keys()]).toEqual([1, 2]);
    const names = [...workers.values()].map((w) => w.node);
    expect(new Set(names).size).toBe(2);
    expect(names.every((n) => n.endsWith(`@${names[0]!.split('@')[1]}`) && /-w[12]@/.test(n))).toBe(true);
    for (const w of workers.values()) expect(alive(w.pid)).toBe(true);

    const sessions: TestClient[] = [];
    for (const u of USERS) sessions.push(await login(node, u));
    const on = await eventually(
      'every session in the store',
      () => nodesOf(store),
      (m) => m.size === USERS.length,
    );
    // The primary hands connections round-robin: both workers hold sessions.
    expect(new Set(on.values())).toEqual(new Set(names));

    // Each user writes to the next one's full JID: half of these cross from one worker to the other.
    for (const [i, c] of sessions.entries()) {
      const to = `${USERS[(i + 1) % USERS.length]}@localhost/r`;
      await c.send(xml('message', { to, type: 'chat' }, xml('body', {}, `from ${USERS[i]}`)));
    }
    for (const [i, c] of sessions.entries()) {
      const from = USERS[(i + USERS.length - 1) % USERS.length]!;
      const m = await c.waitFor((s) => s.getChildText('body') === `from ${from}`);
      expect(m.attrs.from).toBe(`${from}@localhost/r`);
    }
    expect([...on.values()].some((n, i, all) => n !== all[(i + 1) % all.length])).toBe(true);
  });

  it('a worker killed is restarted under its name; the survivor cleans its sessions; new logins reach it', async () => {
    const { node, store } = await primary(2);
    const sessions = new Map<string, TestClient>();
    for (const u of USERS) sessions.set(u, await login(node, u));
    const before = await eventually(
      'every session in the store',
      () => nodesOf(store),
      (m) => m.size === USERS.length,
    );
    const victim = node.workers().get(1)!;
    const onVictim = USERS.filter((u) => before.get(u) === victim.node);
    const survivors = USERS.filter((u) => before.get(u) !== victim.node);
    expect(onVictim.length).toBeGreaterThan(0);
    expect(survivors.length).toBeGreaterThan(0);

    process.kill(victim.pid, 'SIGKILL');
    for (const u of onVictim) await sessions.get(u)!.offline;
    const restarted = await eventually(
      'worker 1 restarted',
      () => node.workers().get(1)!,
      (w) => w.pid !== victim.pid,
      20_000,
    );
    expect(restarted.node).toBe(victim.node);
    expect(alive(restarted.pid)).toBe(true);
    expect(node.output.join('')).toMatch(/worker 1 \(\S+\) exited \(SIGKILL\); restarting it/);
    // The dead incarnation's rows are gone (cleaned by the other worker); the others' remain.
    const after = await eventually(
      "the dead worker's sessions cleaned",
      () => nodesOf(store),
      (m) => onVictim.every((u) => !m.has(u)),
      20_000,
    );
    expect(survivors.every((u) => after.get(u) !== undefined)).toBe(true);

    // The victim's users log in again (round-robin: on either worker) and chat with a survivor.
    const back = await login(node, onVictim[0]!);
    const peer = sessions.get(survivors[0]!)!;
    await back.send(
      xml('message', { to: `${survivors[0]}@localhost/r`, type: 'chat' }, xml('body', {}, 'back')),
    );
    expect((await peer.waitFor((s) => s.getChildText('body') === 'back')).attrs.from).toBe(
      `${onVictim[0]}@localhost/r`,
    );
    // Logins land on the restarted worker too.
    for (const u of onVictim.slice(1)) await login(node, u);
    const now = await eventually(
      'the sessions back',
      () => nodesOf(store),
      (m) => m.size === USERS.length,
    );
    expect(new Set(now.values()).size).toBe(2);
  });

  it('SIGTERM to the primary stops every worker in order (system-shutdown to each stream) and exits 0', async () => {
    const { node, store } = await primary(2);
    const sessions: TestClient[] = [];
    for (const u of USERS.slice(0, 4)) sessions.push(await login(node, u));
    await eventually(
      'the sessions in the store',
      () => nodesOf(store),
      (m) => m.size === 4,
    );
    const pids = [...node.workers().values()].map((w) => w.pid);
    node.proc.kill('SIGTERM');
    expect(await node.exited).toBe(0);
    for (const c of sessions) {
      await c.offline;
      expect(c.streamErrors.map((e) => e.condition)).toEqual(['system-shutdown']);
    }
    expect(pids.filter(alive)).toEqual([]);
    // Each worker closed its own sessions on the way out.
    expect((await nodesOf(store)).size).toBe(0);
    expect(node.output.join('')).toContain('stopped.');
  });

  it('a worker that cannot start (Redis unreachable) stops the primary with its message, exit 1', async () => {
    const started = ChatNode.start([
      '--backend',
      'redis',
      '--redis-url',
      'redis://127.0.0.1:1',
      '--workers',
      '2',
    ]);
    const error = await started.then(
      () => new Error('started'),
      (e: Error) => e,
    );
    expect(error.message).toMatch(/chat server exited \(1\)/);
    expect(error.message).toMatch(/exited before it listened/);
    expect(error.message).toMatch(/redis/i);
  });
});
