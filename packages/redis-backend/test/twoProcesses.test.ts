import { fileURLToPath } from 'node:url';
import { twoProcessSuite } from '@otp-chat/session-manager/testing';
import { describe } from 'vitest';
import { RedisBackend } from '../src/RedisBackend.ts';
import { canRunRedisTests, startTestRedis, uniquePrefix } from '../src/testing/index.ts';

// Two session managers in two Node processes on one Redis (as `ejabberd_sm_redis`: the layout and the
// pub/sub invalidation are what nodes share; every node's cache is invalidated by the others' writes).
describe.skipIf(!canRunRedisTests('two session managers in two processes on one Redis'))(
  'RedisBackend',
  () => {
    twoProcessSuite('one Redis', {
      fixture: fileURLToPath(new URL('./fixtures/smNode.ts', import.meta.url)),
      cwd: fileURLToPath(new URL('../../../', import.meta.url)),
      start: async () => {
        const redis = await startTestRedis();
        const prefix = uniquePrefix('two-proc');
        return {
          backend: new RedisBackend({ url: redis.url, prefix }),
          fixtureArgs: [redis.url, prefix],
          stop: () => redis.stop(),
        };
      },
    });
  },
);
