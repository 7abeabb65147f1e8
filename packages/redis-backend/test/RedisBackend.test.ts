import { type Logger, silentLogger, systemClock } from '@otp-chat/actor';
import { eventually } from '@otp-chat/actor/testing';
import type { Session } from '@otp-chat/session-manager';
import { cleanedRows, makeRow } from '@otp-chat/session-manager/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend, type RedisBackendOptions } from '../src/RedisBackend.ts';
import {
  canRunRedisTests,
  deleteKeysWithPrefix,
  startTestRedis,
  type TestRedis,
  uniquePrefix,
  writeDeadNodeRows,
} from '../src/testing/index.ts';

const A = 'a.example';
const HOSTS = [A, 'b.example'] as const;

interface LogLine {
  readonly level: string;
  readonly obj: Record<string, unknown>;
  readonly msg: string | undefined;
}

function capturingLogger(lines: LogLine[]): Logger {
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function keys(rows: readonly Session[]): string[] {
  return rows.map((r) => r.sid.key()).sort();
}

describe.skipIf(!canRunRedisTests('RedisBackend'))('RedisBackend', () => {
  let redis: TestRedis;
  let admin: Redis;
  const started: RedisBackend[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    admin = new Redis(redis.url, { lazyConnect: true });
    await admin.connect();
  });
  afterEach(async () => {
    for (const b of started.splice(0)) {
      await b.stop();
      await deleteKeysWithPrefix(redis.url, b.keys.prefix);
    }
  });
  afterAll(async () => {
    admin.disconnect();
    await redis.stop();
  });

  async function start(
    options: RedisBackendOptions = {},
    node = 'node1',
    logger: Logger = silentLogger,
  ): Promise<RedisBackend> {
    const b = new RedisBackend({ url: redis.url, prefix: uniquePrefix('rb'), ...options });
    started.push(b);
    await b.init({ node, hosts: HOSTS, logger, clock: systemClock });
    return b;
  }

  describe('layout (ejabberd_sm_redis)', () => {
    it('writes the user hash, the server hash and the node index, and removes all three', async () => {
      const b = await start();
      const p = b.keys.prefix;
      const row = makeRow('alice', A, 'r', 1, { priority: 3 });
      await b.setSession(row);
      expect(await admin.hkeys(`${p}:alice@${A}`)).toEqual([row.sid.key()]);
      expect(await admin.hlen(`${p}:${A}`)).toBe(1);
      expect(await admin.hlen(`${p}:${A}:node:node1`)).toBe(1);
      const [loc] = await admin.hvals(`${p}:${A}:node:node1`);
      expect(JSON.parse(loc!)).toEqual([`${p}:alice@${A}`, row.sid.key()]);
      await b.deleteSession(row);
      expect(await admin.exists(`${p}:alice@${A}`, `${p}:${A}`, `${p}:${A}:node:node1`)).toBe(0);
    });

    it('each write is one MULTI with a PUBLISH on the channel (seen by a subscriber)', async () => {
      const b = await start();
      const sub = new Redis(redis.url, { lazyConnect: true });
      await sub.connect();
      const got: string[] = [];
      sub.on('message', (_c: string, m: string) => got.push(m));
      await sub.subscribe(b.keys.channel);
      await b.setSession(makeRow('alice', A, 'r', 1));
      await admin.ping();
      await sub.ping().catch(() => {});
      sub.disconnect();
      expect(got).toHaveLength(1);
      expect(got[0]!.endsWith(`\n${b.keys.prefix}:alice@${A}`)).toBe(true);
    });

    it('skips and logs a value that cannot be decoded, never crashes', async () => {
      const lines: LogLine[] = [];
      const b = await start({}, 'node1', capturingLogger(lines));
      const row = makeRow('alice', A, 'r', 1);
      await b.setSession(row);
      await admin.hset(`${b.keys.prefix}:alice@${A}`, 'garbage', '\u0083garbage');
      await admin.hset(`${b.keys.prefix}:${A}`, 'garbage', '[9]');
      const fresh = await start({ prefix: b.keys.prefix }, 'node2', capturingLogger(lines));
      expect(keys(await fresh.getSessions('alice', A))).toEqual([row.sid.key()]);
      expect(keys(await fresh.getSessions(A))).toEqual([row.sid.key()]);
      expect(lines.filter((l) => l.level === 'error' && l.msg?.includes('cannot be decoded'))).toHaveLength(
        2,
      );
    });
  });

  describe('cache (ejabberd_sm sm_cache, better)', () => {
    it('serves a warm per-user read synchronously, from the write itself', async () => {
      const b = await start();
      await b.setSession(makeRow('alice', A, 'r', 1));
      const rows = b.getSessions('alice', A);
      expect(Array.isArray(rows)).toBe(true);
      expect(b.getSessions('alice', A)).toBe(rows); // the cached array itself, shared: callers never mutate it
    });

    it('is invalidated on another node through pub/sub', async () => {
      const prefix = uniquePrefix('pubsub');
      const n1 = await start({ prefix }, 'node1');
      const n2 = await start({ prefix }, 'node2');
      const r1 = makeRow('alice', A, 'r1', 1, { node: 'node1' });
      await n1.setSession(r1);
      expect(keys(await n2.getSessions('alice', A))).toEqual([r1.sid.key()]);
      expect(Array.isArray(n2.getSessions('alice', A))).toBe(true); // cached on node2
      const r2 = makeRow('alice', A, 'r2', 2, { node: 'node1' });
      await n1.setSession(r2);
      // node2's entry goes when the invalidation arrives; a PING on its subscriber orders after it.
      await n2.whenSynced();
      await waitUntil(() => !Array.isArray(n2.getSessions('alice', A)));
      expect(keys(await n2.getSessions('alice', A))).toEqual(keys([r1, r2]));
      await n1.deleteSession(r1);
      await waitUntil(() => !Array.isArray(n2.getSessions('alice', A)));
      expect(keys(await n2.getSessions('alice', A))).toEqual([r2.sid.key()]);
    });

    it('does not cache a read that raced a write', async () => {
      const b = await start();
      const row = makeRow('alice', A, 'r', 1);
      const read = b.getSessions('alice', A); // a miss: in flight
      expect(read).toBeInstanceOf(Promise);
      const written = b.setSession(row); // invalidates the read in flight
      expect(await read).toEqual([]);
      await written;
      // The cached value is the write's own, fresh one, never the raced read's `[]`.
      expect(keys(b.getSessions('alice', A) as readonly Session[])).toEqual([row.sid.key()]);
    });

    it('shares one read between concurrent misses', async () => {
      const b = await start();
      const p1 = b.getSessions('bob', A);
      const p2 = b.getSessions('bob', A);
      expect(p1).toBe(p2);
      expect(await p1).toEqual([]);
    });

    it('never caches an error as "no sessions"', async () => {
      const b = await start();
      const key = `${b.keys.prefix}:carol@${A}`;
      await admin.set(key, 'not a hash'); // WRONGTYPE on HGETALL
      await expect(Promise.resolve(b.getSessions('carol', A))).rejects.toMatchObject({
        name: 'RedisCommandError',
      });
      expect(b.cacheSize).toBe(0);
      await admin.del(key);
      expect(await b.getSessions('carol', A)).toEqual([]);
    });

    it('is an LRU bounded by cacheSize', async () => {
      const b = await start({ cacheSize: 3 });
      for (let i = 0; i < 5; i++) await b.getSessions(`u${i}`, A);
      expect(b.cacheSize).toBe(3);
    });

    it('cache: false never caches', async () => {
      const b = await start({ cache: false });
      await b.setSession(makeRow('alice', A, 'r', 1));
      expect(b.getSessions('alice', A)).toBeInstanceOf(Promise);
      expect(b.cacheSize).toBe(0);
      expect(b.useCache(A)).toBe(false);
    });
  });

  describe('node clean-up (ejabberd_sm_redis:clean_table/1, processone/ejabberd#1905, esl/MongooseIM#406)', () => {
    it("init deletes nothing; cleanNode removes a restarted node's previous rows, and only its own", async () => {
      const prefix = uniquePrefix('restart');
      const first = await start({ prefix }, 'node1');
      const other = await start({ prefix }, 'node2');
      const mine = [makeRow('alice', A, 'r', 1), makeRow('bob', 'b.example', 'r', 2)];
      const theirs = makeRow('alice', A, 'r2', 3, { node: 'node2' });
      for (const r of mine) await first.setSession(r);
      await other.setSession(theirs);
      await first.stop(); // a crash: rows stay behind
      const again = await start({ prefix }, 'node1');
      expect(keys(await again.getSessions())).toEqual(keys([...mine, theirs]));
      // The session manager does this at its start, and runs the hooks of each removed row.
      expect(keys(await cleanedRows(again.cleanNode('node1')))).toEqual(keys(mine));
      expect(keys(await again.getSessions())).toEqual([theirs.sid.key()]);
      expect(keys(await other.getSessions('alice', A))).toEqual([theirs.sid.key()]);
    });

    // The count, the batch sizes and the laziness are what this pins; the time and heap of a 100k
    // clean-up are figures of bench/redis-backend.ts (FIGURE clean-100k-*), never assertions here.
    it('cleans 20k rows in bounded batches, one Lua call per batch asked for (never one huge read)', async () => {
      const prefix = uniquePrefix('big');
      const lines: LogLine[] = [];
      // Write the rows of node 'big' straight into Redis in ejabberd's layout, pipelined.
      const writer = new RedisBackend({ url: redis.url, prefix });
      const k = writer.keys;
      const N = 20_000;
      await writeDeadNodeRows(admin, k, A, 'big', N);
      const b = await start({ prefix, cleanBatchSize: 1000 }, 'other', capturingLogger(lines));
      const sizes: number[] = [];
      for await (const batch of b.cleanNode('big')) {
        sizes.push(batch.length);
        // Lazily: the next batch is not removed before this one is asked for.
        if (sizes.length === 1) expect(await admin.hlen(k.server(A))).toBe(N - batch.length);
      }
      const logged = lines.filter((l) => l.obj.event === 'clean_batch' && l.obj.host === A);
      expect(sizes.reduce((a, n) => a + n, 0)).toBe(N);
      expect(logged.map((l) => l.obj.removed)).toEqual(sizes);
      expect(sizes.length).toBeGreaterThanOrEqual(N / 2000);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(2000);
      expect(await admin.hlen(k.server(A))).toBe(0);
      expect(await admin.exists(k.node(A, 'big'), k.user('u1', A), k.user(`u${N - 1}`, A))).toBe(0);
      expect(await b.getSessions(A)).toEqual([]);
    });

    it('cleanNode yields the removed rows and invalidates every cache', async () => {
      const prefix = uniquePrefix('clean');
      const n1 = await start({ prefix }, 'node1');
      const n2 = await start({ prefix }, 'node2');
      const dead = makeRow('alice', A, 'r', 1, { node: 'node3' });
      const live = makeRow('alice', A, 'r2', 2, { node: 'node1' });
      await n1.setSession(dead);
      await n1.setSession(live);
      expect(keys(await n2.getSessions('alice', A))).toEqual(keys([dead, live]));
      expect(keys(await cleanedRows(n1.cleanNode('node3')))).toEqual([dead.sid.key()]);
      await waitUntil(() => !Array.isArray(n2.getSessions('alice', A)));
      expect(keys(await n2.getSessions('alice', A))).toEqual([live.sid.key()]);
    });
  });

  describe('init on a restarted backend actor', () => {
    const ctx = (incarnation?: string) => ({
      node: 'node1',
      hosts: HOSTS,
      logger: silentLogger,
      clock: systemClock,
      ...(incarnation === undefined ? {} : { incarnation }),
    });

    it('never deletes rows, whatever the incarnation (the session manager cleans at its start)', async () => {
      const prefix = uniquePrefix('inc');
      const b = new RedisBackend({ url: redis.url, prefix });
      started.push(b);
      await b.init(ctx('run-1'));
      const mine = [makeRow('alice', A, 'r', 1), makeRow('bob', 'b.example', 'r', 2)];
      for (const r of mine) await b.setSession(r);
      await b.init(ctx('run-1')); // the backend actor crashed and was restarted
      expect(keys(await b.getSessions())).toEqual(keys(mine));
      await b.stop();
      await b.init(ctx('run-2'));
      expect(keys(await b.getSessions())).toEqual(keys(mine));
      const fresh = new RedisBackend({ url: redis.url, prefix });
      started.push(fresh);
      await fresh.init(ctx());
      expect(keys(await fresh.getSessions())).toEqual(keys(mine));
    });

    it('a restart init keeps the connections and flushes the cache', async () => {
      const b = await start();
      await b.setSession(makeRow('alice', A, 'r', 1));
      expect(b.cacheSize).toBe(1);
      await b.init(ctx());
      expect(b.status).toBe('ready');
      expect(b.cacheSize).toBe(0);
      expect(b.cacheEnabled).toBe(true);
      expect(keys(await b.getSessions('alice', A))).toHaveLength(1);
      expect(b.cacheSize).toBe(1);
    });
  });

  it('hostUp / hostDown: a host added at run time is listed and cleaned like the others, then no longer listed', async () => {
    const C = 'c.example';
    const writer = await start({}, 'node2');
    const b = new RedisBackend({ url: redis.url, prefix: writer.keys.prefix });
    started.push(b);
    await b.init({ node: 'node1', hosts: [A], logger: silentLogger, clock: systemClock });
    const row = makeRow('carol', C, 'r', 1, { node: 'node2' });
    await writer.setSession(row);
    // Not one of b's hosts: its rows are not part of "every row" (`get_sessions/0`).
    expect(await b.getSessions()).toEqual([]);
    await b.hostUp(C);
    expect(keys(await b.getSessions())).toEqual([row.sid.key()]);
    expect(keys(await b.getSessions('carol', C))).toEqual([row.sid.key()]);
    b.hostDown(C);
    expect(await b.getSessions()).toEqual([]);
    await b.hostUp(C);
    expect(keys(await cleanedRows(b.cleanNode('node2')))).toEqual([row.sid.key()]);
  });

  it('init may run again on a running backend (an actor restarted by its supervisor) and recovers', async () => {
    const b = await start();
    await b.setSession(makeRow('alice', A, 'r', 1, { node: 'node9' }));
    await b.init({ node: 'node1', hosts: HOSTS, logger: silentLogger, clock: systemClock });
    expect(b.status).toBe('ready');
    expect(keys(await b.getSessions('alice', A))).toHaveLength(1);
    await cleanedRows(b.cleanNode('node9'));
  });
});

/** Waits, bounded, for a condition that an incoming pub/sub message makes true. */
async function waitUntil(condition: () => boolean, what = 'a pub/sub invalidation'): Promise<void> {
  await eventually(what, condition, (ok) => ok);
}
