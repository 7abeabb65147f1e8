import { backendConformance } from '@otp-chat/session-manager/testing';
import { afterAll, beforeAll, describe } from 'vitest';
import { RedisBackend } from '../src/RedisBackend.ts';
import {
  canRunRedisTests,
  deleteKeysWithPrefix,
  startTestRedis,
  type TestRedis,
  uniquePrefix,
} from '../src/testing/index.ts';

// The shared backend contract (the `Backend` interface of @otp-chat/session-manager) on a real Redis, with and without the cache.
describe.skipIf(!canRunRedisTests('RedisBackend conformance'))('RedisBackend on a real Redis', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  for (const cache of [true, false]) {
    backendConformance(`RedisBackend (cache ${cache ? 'on' : 'off'})`, {
      create: () => new RedisBackend({ url: redis.url, prefix: uniquePrefix('conf'), cache }),
      destroy: async (backend) => {
        await backend.stop();
        await deleteKeysWithPrefix(redis.url, backend.keys.prefix);
      },
    });
  }
});
