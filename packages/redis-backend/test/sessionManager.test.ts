import { ActorSystem, type GenServer, silentLogger } from '@otp-chat/actor';
import { eventually } from '@otp-chat/actor/testing';
import { Hooks } from '@otp-chat/event-bus';
import { jid } from '@otp-chat/jid';
import { SessionManager } from '@otp-chat/session-manager';
import { backendActors } from '@otp-chat/session-manager/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../src/RedisBackend.ts';
import {
  canRunRedisTests,
  startTestRedis,
  type TestRedis,
  uniquePrefix,
  writeDeadNodeRows,
} from '../src/testing/index.ts';

const HOST = 'example.com';

/** A connection actor that records what it receives. */
const recorder: GenServer<unknown[], void, 'inbox', unknown[]> = {
  init: () => ({ ok: [] }),
  handleInfo: (m, inbox) => ({ noreply: true, state: [...inbox, m] }),
  handleCall: (_r, _f, inbox) => ({ reply: inbox, state: inbox }),
};

// The session manager on this backend: two nodes (two actor systems, two backends, two
// connection pairs) on one Redis see each other's sessions, and each other's cache invalidations.
describe.skipIf(!canRunRedisTests('SessionManager on RedisBackend'))('SessionManager on RedisBackend', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('opens, routes and closes across two nodes sharing one Redis', async () => {
    const prefix = uniquePrefix('sm');
    const nodes = await Promise.all(
      ['node1', 'node2'].map(async (node) => {
        const system = new ActorSystem({ node, logger: silentLogger });
        const backend = new RedisBackend({ url: redis.url, prefix });
        const sm = await SessionManager.start({
          system,
          hosts: [HOST],
          backends: { [HOST]: backend },
          logger: silentLogger,
          remoteSend: () => false,
        });
        return { system, backend, sm };
      }),
    );
    const [n1, n2] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const phone = await n1.system.spawn(recorder, undefined);
    const sid = n1.sm.makeSid(phone);
    await n1.sm.openSession(sid, 'alice', HOST, 'phone', 5);

    // node2 sees node1's session (and caches the answer).
    expect(await n2.sm.getUserResources('alice', HOST)).toEqual(['phone']);
    // Routing on node1 to the full JID reaches the connection (warm cache: synchronous).
    n1.sm.route(jid('alice', HOST, 'phone'), { type: 'hello' });
    expect(await n1.system.call(phone, 'inbox')).toEqual([{ type: 'hello' }]);

    // node1 closes; node2's cached answer is invalidated through pub/sub.
    await n1.sm.closeSession(sid, 'alice', HOST, 'phone');
    await n2.backend.whenSynced();
    const resources = await eventually(
      "node2's cached answer to be invalidated",
      () => n2.sm.getUserResources('alice', HOST),
      (r) => r.length === 0,
    );
    expect(resources).toEqual([]);
    expect(await n1.sm.connectedUsersNumber()).toBe(0);

    for (const n of nodes) await n.sm.stop();
    expect(n1.backend.status).toBe('stopped');
  });

  it('a crashed backend actor is restarted without wiping this node’s live sessions; a new start cleans the leftovers, hooks run', async () => {
    const prefix = uniquePrefix('sm-restart');
    const system = new ActorSystem({ node: 'node1', logger: silentLogger });
    const backend = new RedisBackend({ url: redis.url, prefix });
    const sm = await SessionManager.start({
      system,
      hosts: [HOST],
      backends: { [HOST]: backend },
      logger: silentLogger,
    });
    const conns = await Promise.all(['phone', 'laptop'].map(() => system.spawn(recorder, undefined)));
    const sids = conns.map((c) => sm.makeSid(c));
    await sm.openSession(sids[0]!, 'alice', HOST, 'phone', 5);
    await sm.openSession(sids[1]!, 'bob', HOST, 'laptop', 1);

    const [before] = await backendActors(sm);
    system.exit(before!.ref, 'kill'); // no terminate: the supervisor restarts it and init runs again
    const [after] = await backendActors(sm);
    expect(after!.ref.equals(before!.ref)).toBe(false);
    expect(system.isAlive(after!.ref)).toBe(true);
    expect(backend.status).toBe('ready');

    // Both sessions are still stored, listed and routable.
    expect(await sm.getUserResources('alice', HOST)).toEqual(['phone']);
    expect(await sm.dirtyGetSessionsList()).toHaveLength(2);
    await sm.route(jid('alice', HOST, 'phone'), { type: 'still-here' });
    await sm.route(jid('bob', HOST), { type: 'bare' });
    expect(await system.call(conns[0]!, 'inbox')).toEqual([{ type: 'still-here' }]);
    expect(await system.call(conns[1]!, 'inbox')).toEqual([{ type: 'bare' }]);
    // And the store keeps working: close one, open another.
    await sm.closeSession(sids[1]!, 'bob', HOST, 'laptop');
    expect(await sm.connectedUsers()).toEqual([`alice@${HOST}/phone`]);

    // A new start of the session manager is a new incarnation: this node's leftovers are cleaned,
    // each with its sm_remove_connection_hook (alice's connection ignores system-shutdown here).
    await sm.stop();
    const hooks = new Hooks();
    const removed: string[] = [];
    hooks.add(
      'sm_remove_connection_hook',
      HOST,
      (_sid, jid) => {
        removed.push(jid.toString());
      },
      50,
    );
    const again = await SessionManager.start({
      system,
      hosts: [HOST],
      backends: { [HOST]: backend },
      hooks,
      logger: silentLogger,
    });
    expect(await again.connectedUsersNumber()).toBe(0);
    expect(removed).toEqual([`alice@${HOST}/phone`]);
    await again.stop();
  });
  // The count and the interleaving are pinned here; the time of a 100k clean-up is a figure of
  // bench/redis-backend.ts (FIGURE clean-100k-ms).
  it('20k rows of a dead node cleaned in batches with a hook each, while routing to live sessions goes on', async () => {
    const prefix = uniquePrefix('sm-20k');
    const N = 20_000;
    // The dead node's rows, written straight into Redis in the backend's layout (pipelined).
    const admin = new Redis(redis.url);
    await writeDeadNodeRows(admin, new RedisBackend({ url: redis.url, prefix }).keys, HOST, 'dead', N);
    admin.disconnect();
    const hooks = new Hooks();
    let removed = 0;
    // Halfway, a hook holds the clean-up until the test lets it go: routing must go on meanwhile.
    let release!: () => void;
    const halfway = new Promise<void>((resolve) => {
      release = resolve;
    });
    hooks.add(
      'sm_remove_connection_hook',
      HOST,
      () => {
        removed++;
        return removed === N / 2 ? halfway : undefined;
      },
      50,
    );
    const system = new ActorSystem({ node: 'survivor', logger: silentLogger });
    const sm = await SessionManager.start({
      system,
      hosts: [HOST],
      hooks,
      backends: { [HOST]: new RedisBackend({ url: redis.url, prefix }) },
      logger: silentLogger,
    });
    const live = await system.spawn(recorder, undefined);
    await sm.openSession(sm.makeSid(live), 'bob', HOST, 'phone', 0);
    const cleaning = sm.cleanNode('dead');
    await eventually(
      'the clean-up to reach its halfway hook',
      () => removed,
      (n) => n === N / 2,
      30_000,
    );
    for (let i = 0; i < 5; i++) void sm.route(jid('bob', HOST, 'phone'), { type: 'during', i });
    await eventually(
      'five messages routed while the clean-up is held halfway',
      () => system.call(live, 'inbox') as Promise<unknown[]>,
      (inbox) => inbox.length === 5,
    );
    expect(removed).toBe(N / 2);
    release();
    expect(await cleaning).toBe(N);
    expect(removed).toBe(N);
    expect(await sm.connectedUsers()).toEqual([`bob@${HOST}/phone`]);
    await sm.stop();
  }, 60_000);
});
