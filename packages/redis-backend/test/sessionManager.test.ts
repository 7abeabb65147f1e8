import { twoNodesSuite } from '@otp-chat/session-manager/testing';
import { afterAll, beforeAll, describe } from 'vitest';
import { RedisBackend } from '../src/RedisBackend.ts';
import { canRunRedisTests, startTestRedis, type TestRedis, uniquePrefix } from '../src/testing/index.ts';

// The session manager on this backend: two nodes (two actor systems, two backends, two
// connection pairs) on one Redis see each other's sessions, and each other's cache invalidations.
describe.runIf(canRunRedisTests('SessionManager on RedisBackend'))('SessionManager on RedisBackend', () => {
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
  });
});
