import { twoNodesSuite } from '@otp-chat/session-manager/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe } from 'vitest';
import { RedisBackend } from '../src/RedisBackend.ts';
import {
  canRunRedisTests,
  startTestRedis,
  type TestRedis,
  uniquePrefix,
  writeDeadNodeRows,
} from '../src/testing/index.ts';

// The session manager on this backend: two nodes (two actor systems, two backends, two
// connection pairs) on one Redis see each other's sessions, and each other's cache invalidations;
// a dead node's 20k rows are cleaned through the session manager, a hook each.
describe.skipIf(!canRunRedisTests('SessionManager on RedisBackend'))('SessionManager on RedisBackend', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  twoNodesSuite('one Redis', {
    newStore: () => uniquePrefix('sm'),
    createBackend: (prefix) => new RedisBackend({ url: redis.url, prefix }),
    // The dead node's rows, written straight into Redis in the backend's layout (pipelined).
    seedRows: async (prefix, node, host, count) => {
      const admin = new Redis(redis.url);
      try {
        await writeDeadNodeRows(admin, new RedisBackend({ url: redis.url, prefix }).keys, host, node, count);
      } finally {
        admin.disconnect();
      }
    },
  });
});
