import { sessionManagerModel } from '@otp-chat/session-manager/testing';
import { afterAll, beforeAll, describe } from 'vitest';
import { RedisBackend } from '../src/RedisBackend.ts';
import {
  canRunRedisTests,
  deleteKeysWithPrefix,
  startTestRedis,
  type TestRedis,
  uniquePrefix,
} from '../src/testing/index.ts';

/** Runs on Redis (about 15 ms each: a session manager on a fresh prefix); `REDIS_MODEL_RUNS=5000` for a long run. */
const RUNS = Number(process.env.REDIS_MODEL_RUNS ?? 300);

// The session manager's model-based test (`ejabberd_sm:do_route/1` to a full JID, `route_message/1`, replacement and `max_user_sessions`) on RedisBackend: the same
// command sequences and reference model as on the memory backend, each run on a fresh key prefix
// (both connections, the subscription and the start-up clean-up included), then its keys deleted.
describe.skipIf(!canRunRedisTests('SessionManager model on RedisBackend'))('RedisBackend', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  sessionManagerModel('RedisBackend', {
    createBackend: () => new RedisBackend({ url: redis.url, prefix: uniquePrefix('model') }),
    destroy: async (backend) => {
      await deleteKeysWithPrefix(redis.url, backend.keys.prefix);
    },
    numRuns: RUNS,
    commands: 60,
    timeoutMs: 60_000 + RUNS * 200,
  });
});
