// The cluster on a real Redis, nodes in one process (the multi-process tests are in
// crossProcess.test.ts): name claims, membership, the clean-up lock, and Redis going away.
import { type ActorRef, ActorSystem, type GenServer, type Logger, silentLogger } from '@otp-chat/actor';
import { eventually } from '@otp-chat/actor/testing';
import { canRunRedisTests, RedisServer, uniquePrefix } from '@otp-chat/redis-backend/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ClaimTimeoutError,
  Cluster,
  type ClusterOptions,
  type NodeEvent,
  NodeNameLostError,
  NodeNameTakenError,
} from '../src/index.ts';

const FAST = { heartbeatIntervalMs: 50, nodeTimeoutMs: 300, reconnectInitialMs: 10, reconnectMaxMs: 100 };

/** Records what it receives; answers `inbox`. */
const recorder: GenServer<unknown[], void, 'inbox', unknown[], never, unknown> = {
  init: () => ({ ok: [] }),
  handleCall: (_r, _f, inbox) => ({ reply: inbox, state: inbox }),
  handleInfo: (m, inbox) => {
    inbox.push(m);
    return { noreply: true, state: inbox };
  },
};

/** Monitors `target` from `init`; records what it receives; answers `inbox`. */
function watching(target: ActorRef): GenServer<unknown[], void, 'inbox', unknown[], never, unknown> {
  return {
    ...recorder,
    init: (_args, ctx) => {
      ctx.monitor(target);
      return { ok: [] };
    },
  };
}

/** Waits for `condition` (eventually(), bounded): fails naming `what` after `ms`, a bound, not a timing assertion. */
async function until(what: string, condition: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  await eventually(what, condition, (ok) => ok, ms);
}

describe.skipIf(!canRunRedisTests('cluster on Redis', 'server'))('cluster on Redis', () => {
  let server: RedisServer;
  let admin: Redis;
  const running: Cluster[] = [];

  beforeAll(async () => {
    server = await RedisServer.start({ persistent: true });
    admin = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    admin.on('error', () => {});
    await admin.connect();
  });
  afterEach(async () => {
    for (const c of running.splice(0)) await c.stop();
  });
  afterAll(async () => {
    admin.disconnect();
    await server.stop();
  });

  async function node(name: string, prefix: string, extra: Partial<ClusterOptions> = {}): Promise<Cluster> {
    const system = new ActorSystem({ node: name, logger: silentLogger });
    const cluster = await Cluster.start({ system, url: server.url, prefix, ...FAST, ...extra });
    running.push(cluster);
    return cluster;
  }

  async function serverTime(): Promise<number> {
    const [s, us] = (await admin.time()) as [string | number, string | number];
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  }

  it('a name a live node holds is refused with NodeNameTakenError naming the node', async () => {
    const prefix = uniquePrefix('claim');
    await node('a@h', prefix);
    const error = await node('a@h', prefix).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NodeNameTakenError);
    expect((error as NodeNameTakenError).node).toBe('a@h');
    expect((error as Error).message).toContain('a@h');
  });

  it('a restart is allowed once the old incarnation expired; it waits while a survivor cleans it', async () => {
    const prefix = uniquePrefix('restart');
    const now = await serverTime();
    const dead = JSON.stringify({ t: 'old', b: now - 10_000, s: now - 20_000, d: 0, c: 0 });
    await admin.hset(`${prefix}:members`, 'a@h', dead);
    await admin.set(`${prefix}:clean:a@h:old`, 'someone', 'PX', 60_000);
    const waiting = node('a@h', prefix, { claimTimeoutMs: 60_000 });
    let claimed = false;
    void waiting.then(() => {
      claimed = true;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(claimed).toBe(false);
    await admin.del(`${prefix}:clean:a@h:old`);
    const a = await waiting;
    expect(a.node).toBe('a@h');
    // Ids of this incarnation start above the claim time × 1000 (Erlang's Creation).
    const ref = await a.system.spawn(recorder, undefined);
    expect(ref.id).toBeGreaterThan(now * 1000);
    await admin.set(`${prefix}:clean:b@h:old`, 'someone', 'PX', 60_000);
    await admin.hset(`${prefix}:members`, 'b@h', dead);
    await expect(node('b@h', prefix, { claimTimeoutMs: 200 })).rejects.toThrow(ClaimTimeoutError);
  });

  it('nodes(), monitorNodes and the system: nodeup on join, nodedown at once on a graceful stop', async () => {
    const prefix = uniquePrefix('members');
    const a = await node('a@h', prefix);
    const events: NodeEvent[] = [];
    a.monitorNodes((e) => events.push(e));
    const b = await node('b@h', prefix);
    await until('b up on a', () => a.nodes().includes('b@h'));
    expect(b.nodes()).toEqual(['a@h']);
    expect(a.system.nodes()).toEqual(['b@h']);
    expect(a.system.isNodeUp('b@h')).toBe(true);
    running.splice(running.indexOf(b), 1);
    await b.stop();
    expect(b.status).toBe('stopped');
    await until('b down on a', () => !a.nodes().includes('b@h'));
    expect(events).toEqual([
      { type: 'nodeup', node: 'b@h' },
      { type: 'nodedown', node: 'b@h', reason: 'declared' },
    ]);
  });

  it('a dead node is cleaned up by exactly one of three survivors racing, once', async () => {
    const prefix = uniquePrefix('cleanup');
    const runs: string[] = [];
    const survivors = await Promise.all(['a@h', 'b@h', 'c@h'].map((n) => node(n, prefix)));
    for (const s of survivors) {
      s.addNodeCleanup(async (dead) => {
        runs.push(`${s.node} cleans ${dead}`);
        await new Promise((r) => setTimeout(r, 100)); // long enough for the others to try
      });
    }
    const now = await serverTime();
    await admin.hset(`${prefix}:members`, 'dead@h', JSON.stringify({ t: 'x', b: now, s: now, d: 0, c: 0 }));
    await admin.xadd(`${prefix}:inbox:dead@h`, '*', 'f', 'a@h');
    await until('cleaned', async () => {
      const e = await admin.hget(`${prefix}:members`, 'dead@h');
      return e !== null && (JSON.parse(e) as { c: number }).c === 1;
    });
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatch(/cleans dead@h$/);
    expect(await admin.exists(`${prefix}:inbox:dead@h`, `${prefix}:clean:dead@h:x`)).toBe(0);
    await new Promise((r) => setTimeout(r, 400)); // several more heartbeats: nobody cleans again
    expect(runs).toHaveLength(1);
  });

  it('a clean-up that fails is released and tried again', async () => {
    const prefix = uniquePrefix('retry');
    const a = await node('a@h', prefix);
    let tries = 0;
    a.addNodeCleanup(() => {
      tries++;
      if (tries === 1) throw new Error('store down');
    });
    const now = await serverTime();
    await admin.hset(
      `${prefix}:members`,
      'dead@h',
      JSON.stringify({ t: 'x', b: now - 5000, s: 0, d: 0, c: 0 }),
    );
    await until('cleaned on the second try', async () => {
      const e = await admin.hget(`${prefix}:members`, 'dead@h');
      return e !== null && (JSON.parse(e) as { c: number }).c === 1;
    });
    expect(tries).toBe(2);
  });

  it('a node that loses its name stops: declared down meanwhile, or taken by another incarnation', async () => {
    const prefix = uniquePrefix('lost');
    const a = await node('a@h', prefix);
    const b = await node('b@h', prefix);
    const lost: NodeNameLostError[] = [];
    a.onFatal((e) => lost.push(e));
    b.onFatal((e) => lost.push(e));
    const target = await b.system.spawn(recorder, undefined);
    const watcher = await a.system.spawn(watching(target), undefined);
    const entry = JSON.parse((await admin.hget(`${prefix}:members`, 'a@h'))!) as Record<string, unknown>;
    await admin.hset(`${prefix}:members`, 'a@h', JSON.stringify({ ...entry, d: await serverTime() }));
    const entryB = JSON.parse((await admin.hget(`${prefix}:members`, 'b@h'))!) as Record<string, unknown>;
    await admin.hset(`${prefix}:members`, 'b@h', JSON.stringify({ ...entryB, t: 'someone-else' }));
    await until('both lost their names', () => lost.length === 2);
    expect(lost.map((e) => [e.node, e.why]).sort()).toEqual([
      ['a@h', 'declared-down'],
      ['b@h', 'taken'],
    ]);
    expect(lost[0]).toBeInstanceOf(NodeNameLostError);
    expect(a.nodes()).toEqual([]);
    expect(a.system.nodes()).toEqual([]);
    // Out of the cluster: its monitor of b's process fired noconnection.
    expect(await a.system.call(watcher, 'inbox')).toMatchObject([{ type: 'DOWN', reason: 'noconnection' }]);
    await until('a stopped', () => a.status === 'stopped' && b.status === 'stopped');
  });

  describe('Redis going away', () => {
    it('killed and restarted (data kept): nobody is declared down, and messages resume in order', async () => {
      const prefix = uniquePrefix('outage');
      const logs: string[] = [];
      const logger: Logger = {
        debug() {},
        info() {},
        warn: (_o, m) => void logs.push(String(m)),
        error: (_o, m) => void logs.push(String(m)),
      };
      const a = await node('a@h', prefix, { logger });
      const b = await node('b@h', prefix, { logger });
      const events: NodeEvent[] = [];
      a.monitorNodes((e) => events.push(e));
      b.monitorNodes((e) => events.push(e));
      await until('both up', () => a.nodes().length === 1 && b.nodes().length === 1);
      const inbox: ActorRef = await b.system.spawn(recorder, undefined);
      for (let i = 0; i < 100; i++) a.system.send(inbox, i);
      await until(
        'first 100',
        async () => ((await b.system.call(inbox, 'inbox')) as unknown[]).length === 100,
      );
      await server.kill();
      for (let i = 100; i < 200; i++) a.system.send(inbox, i); // queued while Redis is away
      // Longer than the node timeout: each side sees the other's heartbeat expire, but must not judge.
      await new Promise((r) => setTimeout(r, 800));
      await server.restart();
      await until(
        '200 in order',
        async () => ((await b.system.call(inbox, 'inbox')) as unknown[]).length >= 200,
      );
      expect(await b.system.call(inbox, 'inbox')).toEqual([...Array(200).keys()]);
      await new Promise((r) => setTimeout(r, 400)); // a full timeout of heartbeats after the outage
      expect(events).toEqual([]);
      expect(a.nodes()).toEqual(['b@h']);
      expect(a.stats.lost + b.stats.lost).toBe(0);
      expect(logs).toContain('cluster: redis lost; membership kept as it was until it is back');
    });

    it('bounded while Redis is away: beyond outboxMaxBytes signals are dropped and counted, and the receiver counts the gap', async () => {
      const prefix = uniquePrefix('bounded');
      const a = await node('a@h', prefix, { outboxMaxBytes: 100_000, batchMaxBytes: 30_000 });
      const b = await node('b@h', prefix);
      await until('both up', () => a.nodes().length === 1 && b.nodes().length === 1);
      const inbox = await b.system.spawn(recorder, undefined);
      const big = 'x'.repeat(10_000);
      a.system.send(inbox, { i: -1, big });
      await until('first', async () => ((await b.system.call(inbox, 'inbox')) as unknown[]).length === 1);
      await server.kill();
      for (let i = 0; i < 50; i++) a.system.send(inbox, { i, big });
      const dropped = a.stats.dropped;
      expect(dropped).toBeGreaterThan(30);
      expect(dropped).toBeLessThan(50);
      await server.restart();
      await new Promise((r) => setTimeout(r, 400));
      a.system.send(inbox, { i: 50, big: '' });
      await until('the last', async () =>
        ((await b.system.call(inbox, 'inbox')) as Array<{ i: number }>).some((m) => m.i === 50),
      );
      const got = ((await b.system.call(inbox, 'inbox')) as Array<{ i: number }>).map((m) => m.i);
      // In order, the first ones that fitted, then the last; the rest counted on both sides.
      expect(got).toEqual([-1, ...[...Array(50 - dropped).keys()], 50]);
      expect(b.stats.lost).toBe(dropped);
    });

    it('restarted empty: every pair is reset (noconnection), names are claimed again, nodes come back', async () => {
      const prefix = uniquePrefix('reset');
      const a = await node('a@h', prefix);
      const b = await node('b@h', prefix);
      await until('both up', () => a.nodes().length === 1 && b.nodes().length === 1);
      const target = await b.system.spawn(recorder, undefined);
      const watcher = await a.system.spawn(watching(target), undefined);
      await admin.flushall();
      await until('a re-claimed', async () => (await admin.hexists(`${prefix}:members`, 'a@h')) === 1);
      await until('b re-claimed', async () => (await admin.hexists(`${prefix}:members`, 'b@h')) === 1);
      await until(
        'DOWN noconnection',
        async () => ((await a.system.call(watcher, 'inbox')) as unknown[]).length === 1,
      );
      const [down] = (await a.system.call(watcher, 'inbox')) as Array<{ reason: unknown }>;
      expect(down!.reason).toBe('noconnection');
      await until('nodes back', () => a.nodes().includes('b@h') && b.nodes().includes('a@h'));
      const again = await b.system.spawn(recorder, undefined);
      a.system.send(again, 'after');
      await until(
        'delivered after the reset',
        async () => ((await b.system.call(again, 'inbox')) as unknown[]).length === 1,
      );
    });
  });
});
