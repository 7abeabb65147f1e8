import { makeRow, twoNodesSuite } from '@otp-chat/session-manager/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe } from 'vitest';
import { RedisBackend } from '../src/RedisBackend.ts';
import { encodeSession } from '../src/sessionCodec.ts';
import { canRunRedisTests, startTestRedis, type TestRedis, uniquePrefix } from '../src/testing/index.ts';

// The session manager on this backend: two nodes (two actor systems, two backends, two
// connection pairs) on one Redis see each other's sessions, and each other's cache invalidations;
// a dead node's 100k rows are cleaned through the session manager, a hook each.
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
    // The dead node's rows, written straight into Redis in the backend's layout (pipelined).
    seedRows: async (prefix, node, host, count) => {
      const k = new RedisBackend({ url: redis.url, prefix }).keys;
      const admin = new Redis(redis.url);
      try {
        for (let i = 0; i < count; i += 5000) {
          const pipe = admin.pipeline();
          for (let j = i; j < Math.min(count, i + 5000); j++) {
            const row = makeRow(`u${j}`, host, 'r', j + 1, { node });
            const userKey = k.user(row.luser, row.lserver);
            const sf = k.serverField(row);
            const value = encodeSession(row);
            pipe.hset(userKey, k.userField(row), value);
            pipe.hset(k.server(host), sf, value);
            pipe.hset(k.node(host, node), sf, JSON.stringify([userKey, k.userField(row)]));
          }
          await pipe.exec();
        }
      } finally {
        admin.disconnect();
      }
    },
  });
});
