// Nodes in several processes over a real Redis: the cross-node semantics table (send, cast, call,
// monitor, link, trapExit, and the noconnection rows), a kill -9 with its clean-up raced by three
// survivors, and Redis restarted under cross-node traffic. The parent (this process) is one node;
// the others are forked (test/fixtures/clusterNode.ts) and always exit.
import {
  ActorRef,
  ActorSystem,
  CallTimeoutError,
  ExitError,
  type GenServer,
  NoConnectionError,
  NoProcError,
  silentLogger,
} from '@otp-chat/actor';
import { eventually } from '@otp-chat/actor/testing';
import { Hooks } from '@otp-chat/event-bus';
import { RedisBackend } from '@otp-chat/redis-backend';
import { canRunRedisTests, RedisServer, uniquePrefix } from '@otp-chat/redis-backend/testing';
import { SessionManager } from '@otp-chat/session-manager';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../src/index.ts';
import { ChildNode } from './fixtures/ChildNode.ts';
import { HOST } from './fixtures/protocol.ts';

const TIMING = { heartbeatIntervalMs: 100, nodeTimeoutMs: 700 };

expect.addEqualityTesters([
  (x: unknown, y: unknown) => (x instanceof ActorRef && y instanceof ActorRef ? x.equals(y) : undefined),
]);

/** Records what it receives (info, casts); answers `inbox`; traps exits when asked. */
function recorder(trap = false): GenServer<unknown[], void, { type: 'inbox' }, unknown[], unknown, unknown> {
  return {
    init: (_a, ctx) => {
      if (trap) ctx.trapExit(true);
      return { ok: [] };
    },
    handleCall: (_r, _f, s) => ({ reply: s, state: s }),
    handleCast: (m, s) => {
      s.push({ cast: m });
      return { noreply: true, state: s };
    },
    handleInfo: (m, s) => {
      s.push(m);
      return { noreply: true, state: s };
    },
  };
}

/** Waits for `condition` (eventually(), bounded): fails naming `what` after `ms`, a bound, not a timing assertion. */
async function until(what: string, condition: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  await eventually(what, condition, (ok) => ok, ms);
}

const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);

describe.skipIf(!canRunRedisTests('cluster across processes', 'server'))('cluster across processes', () => {
  let server: RedisServer;
  const clusters: Cluster[] = [];

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    server = await RedisServer.start();
  });
  /** Ends the children and parent nodes a test started (the table's live across its rows). */
  async function cleanUp(): Promise<void> {
    await ChildNode.killAll();
    for (const c of clusters.splice(0)) await c.stop();
  }
  afterAll(async () => {
    await cleanUp();
    await server?.stop();
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).toEqual([]);
  });

  async function parent(name: string, prefix: string, url = server.url): Promise<Cluster> {
    const system = new ActorSystem({ node: name, logger: silentLogger });
    const cluster = await Cluster.start({
      system,
      url,
      prefix,
      ...TIMING,
      logger: silentLogger,
      reconnectMaxMs: 100,
    });
    clusters.push(cluster);
    return cluster;
  }

  describe('the cross-node semantics table (this process ↔ a forked node)', () => {
    let a: Cluster;
    let b: ChildNode;
    const ref = (j: { node: string; id: number }) => ActorRef.fromJSON(j);

    beforeAll(async () => {
      const prefix = uniquePrefix('table');
      a = await parent('a@test', prefix);
      b = await ChildNode.start({ url: server.url, prefix, node: 'b@test', ...TIMING });
      await until('b up on a', () => a.nodes().includes('b@test'));
    });
    afterAll(async () => {
      await b.quit();
      await a.stop();
    });

    const spawnB = async (trap = false) =>
      ref(await b.request<{ node: string; id: number }>({ op: 'spawn', kind: 'recorder', trap }));
    const inboxB = (r: ActorRef) => b.request<unknown[]>({ op: 'inbox', ref: r.toJSON() });

    it('send: in order, decoded; cast reaches handleCast', async () => {
      const target = await spawnB();
      for (let i = 0; i < 500; i++) a.system.send(target, { i, at: target });
      a.system.cast(target, 'c');
      await until('all 501', async () => (await inboxB(target)).length === 501);
      const got = await inboxB(target);
      expect(got.slice(0, 500).map((m) => (m as { i: number }).i)).toEqual([...Array(500).keys()]);
      expect(got[3]).toEqual({ i: 3, at: target.toJSON() });
      expect(got[500]).toEqual({ cast: 'c' });
    });

    it('send the other way: the forked node to this one', async () => {
      const mine = await a.system.spawn(recorder(), undefined);
      await b.request({ op: 'blast', to: mine.toJSON(), from: 0, count: 300 });
      await until(
        '300',
        async () => ((await a.system.call(mine, { type: 'inbox' })) as unknown[]).length === 300,
      );
      expect(await a.system.call(mine, { type: 'inbox' })).toEqual([...Array(300).keys()]);
    });

    it('call: reply; timeout then the late reply dropped; NoProcError; ExitError', async () => {
      const target = await spawnB();
      expect(await a.system.call(target, { type: 'echo', value: { x: [1, 'two'] } })).toEqual({
        x: [1, 'two'],
      });
      await expect(a.system.call(target, { type: 'hold' }, 200)).rejects.toBeInstanceOf(CallTimeoutError);
      await b.request({
        op: 'call',
        to: target.toJSON(),
        request: { type: 'release', value: 'late' },
        timeoutMs: 5000,
      });
      expect(await a.system.call(target, { type: 'echo', value: 'after' })).toBe('after');
      const holding = a.system.call(target, { type: 'hold' }, 10_000).catch((x: unknown) => x);
      await new Promise((r) => setTimeout(r, 100));
      await b.request({ op: 'exit', ref: target.toJSON(), reason: { shutdown: 'bye' } });
      const e = (await holding) as ExitError;
      expect(e).toBeInstanceOf(ExitError);
      expect(e.reason).toEqual({ shutdown: 'bye' });
      await expect(a.system.call(target, { type: 'echo', value: 1 })).rejects.toBeInstanceOf(NoProcError);
    });

    it('call: a callee that ends without replying fails every waiting call at once with its reason (gen:do_call/4)', async () => {
      // Infinite timeouts: only the exit can end these calls. A call held (noreply), the call
      // whose handler returns { stop } without a reply, and one queued behind it.
      const target = await spawnB();
      const outcome = (p: Promise<unknown>) =>
        p.then(
          (v) => ({ ok: v }),
          (e: unknown) => (e instanceof ExitError ? { exit: e.reason } : { other: String(e) }),
        );
      const results: unknown[] = [];
      const calls = [
        { type: 'hold' },
        { type: 'stop', reason: { shutdown: 'bye' } },
        { type: 'echo', value: 'queued' },
      ].map((request) => outcome(a.system.call(target, request, Number.POSITIVE_INFINITY)));
      for (const c of calls) void c.then((r) => results.push(r));
      await until('the three calls to fail', () => results.length === 3);
      expect(await Promise.all(calls)).toEqual([
        { exit: { shutdown: 'bye' } },
        { exit: { shutdown: 'bye' } },
        { exit: { shutdown: 'bye' } },
      ]);
    });

    it('call the other way, into this node: reply and NoProc', async () => {
      const echo = await a.system.spawn<null, void, { v: number }, number, never, never>(
        { init: () => ({ ok: null }), handleCall: (r, _f, s) => ({ reply: r.v * 2, state: s }) },
        undefined,
      );
      expect(await b.request({ op: 'call', to: echo.toJSON(), request: { v: 21 }, timeoutMs: 5000 })).toEqual(
        { ok: 42 },
      );
      await a.system.stop(echo);
      expect(await b.request({ op: 'call', to: echo.toJSON(), request: { v: 1 }, timeoutMs: 5000 })).toEqual({
        error: 'NoProcError',
        reason: 'noproc',
      });
    });

    it('monitor: DOWN with the reason; noproc for a dead process; both ways', async () => {
      const target = await spawnB();
      const watcher = await a.system.spawn(
        {
          ...recorder(),
          handleCall: (req: { type: string; to?: ActorRef }, _f, s, ctx) =>
            req.type === 'monitor' ? { reply: ctx.monitor(req.to!), state: s } : { reply: s, state: s },
        } as GenServer<unknown[], void, { type: string; to?: ActorRef }, unknown, unknown, unknown>,
        undefined,
      );
      const m1 = await a.system.call(watcher, { type: 'monitor', to: target });
      await new Promise((r) => setTimeout(r, 50));
      await b.request({ op: 'exit', ref: target.toJSON(), reason: { exit: 'gone' } });
      const m2 = await a.system.call(watcher, { type: 'monitor', to: target });
      await until(
        'two DOWNs',
        async () => ((await a.system.call(watcher, { type: 'inbox' })) as unknown[]).length === 2,
      );
      expect(await a.system.call(watcher, { type: 'inbox' })).toEqual([
        { type: 'DOWN', ref: m1, target, reason: { exit: 'gone' } },
        { type: 'DOWN', ref: m2, target, reason: 'noproc' },
      ]);
      // The forked node monitors a process here.
      const mine = await a.system.spawn(recorder(), undefined);
      const bWatcher = await spawnB();
      await b.request({ op: 'monitor', from: bWatcher.toJSON(), to: mine.toJSON() });
      await new Promise((r) => setTimeout(r, 50));
      await a.system.stop(mine, 'shutdown');
      await until('DOWN on b', async () => (await inboxB(bWatcher)).length === 1);
      expect(await inboxB(bWatcher)).toEqual([
        { type: 'DOWN', ref: { monitorId: expect.any(Number) }, target: mine.toJSON(), reason: 'shutdown' },
      ]);
    });

    it('link and trapExit: EXIT to a trapping process, death of a non-trapping one, both ways', async () => {
      const target = await spawnB();
      const trapping = await a.system.spawn(recorder(true), undefined);
      const plain = await a.system.spawn(recorder(false), undefined);
      a.system.link(trapping, target);
      a.system.link(plain, target);
      await new Promise((r) => setTimeout(r, 50));
      const plainGone = a.system.whenExit(plain);
      await b.request({ op: 'exit', ref: target.toJSON(), reason: { exit: 'crash' } });
      expect(await plainGone).toEqual({ exit: 'crash' });
      await until(
        'EXIT',
        async () => ((await a.system.call(trapping, { type: 'inbox' })) as unknown[]).length === 1,
      );
      expect(await a.system.call(trapping, { type: 'inbox' })).toEqual([
        { type: 'EXIT', from: target, reason: { exit: 'crash' } },
      ]);
      // This node's process dies: the trapping process on b gets the EXIT.
      const bTrap = await spawnB(true);
      const mine = await a.system.spawn(recorder(), undefined);
      await b.request({ op: 'link', from: bTrap.toJSON(), to: mine.toJSON() });
      await new Promise((r) => setTimeout(r, 50));
      a.system.exit(mine, { exit: 'from a' });
      await until('EXIT on b', async () => (await inboxB(bTrap)).length === 1);
      expect(await inboxB(bTrap)).toEqual([
        { type: 'EXIT', from: mine.toJSON(), reason: { exit: 'from a' } },
      ]);
    });

    it('unencodable: send throws at the sender and nothing crosses', async () => {
      const target = await spawnB();
      expect(() => a.system.send(target, { f: () => 1 })).toThrow(/cannot send/);
      a.system.send(target, 'ok');
      await until('one', async () => (await inboxB(target)).length === 1);
      expect(await inboxB(target)).toEqual(['ok']);
    });
  });

  /** A test body whose nodes are ended however it ends. */
  const cleaned = (body: () => Promise<void>) => async (): Promise<void> => {
    try {
      await body();
    } finally {
      await cleanUp();
    }
  };

  it(
    'kill -9: DOWN and EXIT noconnection within the timeout, once; calls fail with NoConnectionError',
    cleaned(async () => {
      const prefix = uniquePrefix('kill');
      const a = await parent('a@kill', prefix);
      const b = await ChildNode.start({ url: server.url, prefix, node: 'b@kill', ...TIMING });
      await until('b up', () => a.nodes().includes('b@kill'));
      const target = ActorRef.fromJSON(await b.request({ op: 'spawn', kind: 'recorder' }));
      const watcher = await a.system.spawn(
        {
          ...recorder(true),
          init: (_a, ctx) => {
            ctx.trapExit(true);
            ctx.monitor(target);
            ctx.link(target);
            return { ok: [] };
          },
        },
        undefined,
      );
      const waiting = a.system.call(target, { type: 'hold' }, 60_000).catch((x: unknown) => x);
      await new Promise((r) => setTimeout(r, 100));
      const killedAt = Date.now();
      await b.kill9();
      expect(await waiting).toBeInstanceOf(NoConnectionError);
      const detected = Date.now() - killedAt;
      await until(
        'DOWN and EXIT',
        async () => ((await a.system.call(watcher, { type: 'inbox' })) as unknown[]).length >= 2,
      );
      await new Promise((r) => setTimeout(r, 300));
      expect(await a.system.call(watcher, { type: 'inbox' })).toEqual([
        { type: 'DOWN', ref: { monitorId: expect.any(Number) }, target, reason: 'noconnection' },
        { type: 'EXIT', from: target, reason: 'noconnection' },
      ]);
      await expect(a.system.call(target, { type: 'echo', value: 1 })).rejects.toBeInstanceOf(
        NoConnectionError,
      );
      // Seen within the timeout plus one heartbeat (a bound on the test, not a benchmark).
      expect(detected).toBeLessThan(TIMING.nodeTimeoutMs + 2 * TIMING.heartbeatIntervalMs + 1000);
    }),
  );

  it(
    'kill -9 of a node with sessions: one of three racing survivors cleans them, each hook once',
    cleaned(async () => {
      const prefix = uniquePrefix('sessions');
      const smPrefix = uniquePrefix('sm');
      const N = 300;
      // Survivor 1 is this process, with its own session manager and hook counter.
      const a = await parent('s1@race', prefix);
      const hooks = new Hooks();
      const mine: string[] = [];
      hooks.add('sm_remove_connection_hook', HOST, (sid) => void mine.push(sid.key()), 50);
      const sm = await SessionManager.start({
        system: a.system,
        hosts: [HOST],
        hooks,
        backends: { [HOST]: new RedisBackend({ url: server.url, prefix: smPrefix }) },
        logger: silentLogger,
      });
      a.addNodeCleanup((node, { signal }) => sm.cleanNode(node, { signal }));
      const [s2, s3, doomed] = await Promise.all(
        ['s2@race', 's3@race', 'doomed@race'].map((node) =>
          ChildNode.start({ url: server.url, prefix, node, smPrefix, ...TIMING }),
        ),
      );
      await until('all up', () => a.nodes().length === 3);
      await doomed!.request({ op: 'open', user: 'carol', count: N });
      await s2!.request({ op: 'open', user: 'dave', count: 5 });
      expect(await sm.connectedUsersNumber()).toBe(N + 5);
      await doomed!.kill9();
      await until(
        'every doomed session cleaned',
        async () => (await sm.connectedUsersNumber()) === 5,
        20_000,
      );
      await new Promise((r) => setTimeout(r, 500)); // a few more heartbeats: nobody cleans twice
      const all = [...mine, ...s2!.hooks, ...s3!.hooks];
      expect(all).toHaveLength(N);
      expect(new Set(all).size).toBe(N);
      // Exactly one survivor ran them.
      expect([mine.length, s2!.hooks.length, s3!.hooks.length].filter((n) => n > 0)).toEqual([N]);
      expect(s2!.unhandled).toEqual([]);
      await sm.stop();
    }),
  );

  describe('Redis restarted under cross-node traffic, both ways', () => {
    async function traffic(url: string, redis: RedisServer) {
      const prefix = uniquePrefix('traffic');
      const a = await parent('a@traffic', prefix, url);
      const b = await ChildNode.start({ url, prefix, node: 'b@traffic', ...TIMING });
      await until('b up', () => a.nodes().includes('b@traffic'));
      const onB = ActorRef.fromJSON(await b.request({ op: 'spawn', kind: 'recorder' }));
      const onA = await a.system.spawn(recorder(), undefined);
      const CHUNK = 200;
      let sent = 0;
      const pump = async (chunks: number, pauseMs = 5) => {
        for (let c = 0; c < chunks; c++) {
          for (let i = sent; i < sent + CHUNK; i++) a.system.send(onB, i);
          await b.request({ op: 'blast', to: onA.toJSON(), from: sent, count: CHUNK });
          sent += CHUNK;
          if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
        }
      };
      await pump(5);
      // A burst in flight when Redis dies: some of it written to Redis and not read yet.
      await pump(5, 0);
      await redis.kill();
      await pump(5); // while Redis is down
      await redis.restart();
      await pump(5);
      // Once both claimed their names again (after Redis lost its data, each resets when its
      // heartbeat sees it) and see each other, a last chunk each way: delivery has resumed, and
      // every earlier gap is followed by traffic that shows it to the receiver.
      const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      admin.on('error', () => {});
      await admin.connect();
      await until('both claimed', async () => (await admin.hlen(`${prefix}:members`).catch(() => 0)) === 2);
      admin.disconnect();
      await until(
        'both up again',
        async () =>
          a.nodes().includes('b@traffic') &&
          (await b.request<string[]>({ op: 'nodes' })).includes('a@traffic'),
      );
      const lastFrom = sent;
      await pump(1);
      const total = sent;
      const statsB = async () =>
        b.request<{ lost: number; dropped: number; received: number }>({ op: 'stats' });
      // Until every message is either in or counted as lost by its receiver.
      const accounted = async () => {
        const gotB = (await b.request<number[]>({ op: 'inbox', ref: onB.toJSON() })).length;
        const gotA = ((await a.system.call(onA, { type: 'inbox' })) as unknown[]).length;
        const sb = await statsB();
        return gotB + sb.lost >= total && gotA + a.stats.lost >= total;
      };
      await until('every message delivered or counted', accounted);
      const gotB = await b.request<number[]>({ op: 'inbox', ref: onB.toJSON() });
      const gotA = (await a.system.call(onA, { type: 'inbox' })) as number[];
      // The last chunk arrived whole, both ways.
      const last = [...Array(CHUNK).keys()].map((i) => lastFrom + i);
      expect(gotB.slice(-CHUNK)).toEqual(last);
      expect(gotA.slice(-CHUNK)).toEqual(last);
      return { a, b, gotA, gotB, total, sb: await statsB() };
    }

    function increasing(xs: readonly number[]): boolean {
      return xs.every((x, i) => i === 0 || x > xs[i - 1]!);
    }

    it('with persistence (AOF, fsync always): every message delivered exactly once, in order', async () => {
      const redis = await RedisServer.start({ persistent: true });
      try {
        const { gotA, gotB, total, a, b, sb } = await traffic(redis.url, redis);
        expect(gotB).toEqual([...Array(total).keys()]);
        expect(gotA).toEqual([...Array(total).keys()]);
        expect([a.stats.lost, a.stats.dropped, sb.lost, sb.dropped]).toEqual([0, 0, 0, 0]);
        expect(b.unhandled).toEqual([]);
      } finally {
        await cleanUp();
        await redis.stop();
      }
    });

    it('without persistence (Redis restarts empty): in order, never twice, every loss counted', async () => {
      const redis = await RedisServer.start();
      try {
        const { gotA, gotB, total, a, b, sb } = await traffic(redis.url, redis);
        expect(increasing(gotB)).toBe(true);
        expect(increasing(gotA)).toBe(true);
        // What the receiver did not get, it counted as lost (gaps in the sender's sequence).
        expect(gotB.length + sb.lost).toBe(total);
        expect(gotA.length + a.stats.lost).toBe(total);
        expect(b.unhandled).toEqual([]);
      } finally {
        await cleanUp();
        await redis.stop();
      }
    });
  });
});
