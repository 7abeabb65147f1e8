import { sessionManagerCrash } from '@otp-chat/session-manager/testing';
import { afterAll, beforeAll, describe } from 'vitest';
import { RedisBackend } from '../src/RedisBackend.ts';
import {
  canRunRedisTests,
  deleteKeysWithPrefix,
  startTestRedis,
  type TestRedis,
  uniquePrefix,
} from '../src/testing/index.ts';

// The session manager's actor killed under 1,000 sessions stored in Redis: its supervisor restarts
// it alone, the backend (its connections, its cache) stays, and every user is still routed to.
describe.skipIf(!canRunRedisTests('SessionManager crash on RedisBackend'))('RedisBackend', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  sessionManagerCrash('RedisBackend', {
    createBackend: () => new RedisBackend({ url: redis.url, prefix: uniquePrefix('crash') }),
    destroy: async (backend) => {
      await deleteKeysWithPrefix(redis.url, backend.keys.prefix);
    },
  });
});
