// One contract, three stores: memory, Redis (a private redis-server) and PostgreSQL (a private
// server); the Redis and PostgreSQL cases skip loudly without the binaries (REQUIRE_REDIS=1,
// REQUIRE_POSTGRES=1 make that a failure).
import {
  canRunRedisTests,
  startTestRedis,
  type TestRedis,
  uniquePrefix,
} from '@otp-chat/redis-backend/testing';
import { SqlClient } from '@otp-chat/sql-backend';
import {
  canRunPostgresTests,
  startTestPostgres,
  type TestPostgres,
  uniqueSchema,
} from '@otp-chat/sql-backend/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModuleStoreError } from '../src/errors.ts';
import { MemoryModuleStore } from '../src/MemoryModuleStore.ts';
import type { ModuleStore } from '../src/ModuleStore.ts';
import { type RedisModuleClient, RedisModuleStore } from '../src/RedisModuleStore.ts';
import { SqlModuleStore } from '../src/SqlModuleStore.ts';

const redisOk = canRunRedisTests('ModuleStore on Redis');
const pgOk = canRunPostgresTests('ModuleStore on PostgreSQL');
let redis: TestRedis | undefined;
let client: Redis | undefined;
let pg: TestPostgres | undefined;
let sql: SqlClient | undefined;

beforeAll(async () => {
  if (redisOk) {
    redis = await startTestRedis();
    client = new Redis(redis.url);
  }
  if (pgOk) {
    pg = await startTestPostgres();
    sql = new SqlClient({ url: pg.url });
  }
});
afterAll(async () => {
  await client?.quit();
  await redis?.stop();
  await sql?.end();
  await pg?.stop();
});

const cases: [string, boolean, () => Promise<ModuleStore>][] = [
  ['memory', false, async () => new MemoryModuleStore()],
  ['redis', !redisOk, async () => new RedisModuleStore(client!, { prefix: uniquePrefix('mod') })],
  ['postgres', !pgOk, async () => SqlModuleStore.start(sql!, { schema: uniqueSchema('mod') })],
];

describe.each(cases)('ModuleStore: %s', (_name, skip, make) => {
  it.skipIf(skip)('maps: set, get, getAll, delete, deleteAll, per table and user', async () => {
    const s = await make();
    await s.set('roster', 'a@h', 'b@h', '{"x":1}');
    await s.set('roster', 'a@h', 'c@h', '{"x":2}');
    await s.set('roster', 'a@h', 'b@h', '{"x":3}');
    await s.set('blocklist', 'a@h', 'b@h', '1');
    await s.set('roster', 'z@h', 'b@h', 'other user');
    expect(await s.get('roster', 'a@h', 'b@h')).toBe('{"x":3}');
    expect(await s.get('roster', 'a@h', 'nobody')).toBeUndefined();
    expect([...(await s.getAll('roster', 'a@h'))].sort()).toEqual([
      ['b@h', '{"x":3}'],
      ['c@h', '{"x":2}'],
    ]);
    await s.delete('roster', 'a@h', 'c@h');
    expect([...(await s.getAll('roster', 'a@h')).keys()]).toEqual(['b@h']);
    await s.deleteAll('roster', 'a@h');
    expect((await s.getAll('roster', 'a@h')).size).toBe(0);
    expect(await s.get('blocklist', 'a@h', 'b@h')).toBe('1');
    expect(await s.get('roster', 'z@h', 'b@h')).toBe('other user');
  });

  it.skipIf(skip)('lists: bounded append in order, readList, count, takeAll empties', async () => {
    const s = await make();
    for (const v of ['m1', 'm2', 'm3']) expect(await s.append('offline', 'a@h', v, 3)).toBe(true);
    expect(await s.append('offline', 'a@h', 'm4', 3)).toBe(false);
    expect(await s.count('offline', 'a@h')).toBe(3);
    expect(await s.readList('offline', 'a@h')).toEqual(['m1', 'm2', 'm3']);
    expect(await s.takeAll('offline', 'a@h')).toEqual(['m1', 'm2', 'm3']);
    expect(await s.takeAll('offline', 'a@h')).toEqual([]);
    expect(await s.count('offline', 'a@h')).toBe(0);
    // Racing appends past the bound: never more than the bound is kept.
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => s.append('offline', 'b@h', `r${i}`, 4)),
    );
    expect(results.filter(Boolean).length).toBe(await s.count('offline', 'b@h'));
    expect(await s.count('offline', 'b@h')).toBeLessThanOrEqual(4);
  });
});

describe('RedisModuleStore bounds every call', () => {
  it('a Redis that never answers: ModuleStoreError (timeout)', async () => {
    const never = new Promise<never>(() => {});
    const stuck = new Proxy({}, { get: () => () => never }) as RedisModuleClient;
    const s = new RedisModuleStore(stuck, { timeoutMs: 50 });
    await expect(s.get('roster', 'a@h', 'b@h')).rejects.toMatchObject({
      name: 'ModuleStoreError',
      reason: 'timeout',
    });
    await expect(s.append('offline', 'a@h', 'x', 1)).rejects.toBeInstanceOf(ModuleStoreError);
  });
});
