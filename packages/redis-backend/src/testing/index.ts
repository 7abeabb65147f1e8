/**
 * `@otp-chat/redis-backend/testing`: a `redis-server` per test file on a free loopback port, that
 * fault tests can kill and restart; `REDIS_URL` as a fallback; a loud skip (or, with
 * `REQUIRE_REDIS=1`, a failure) when neither exists.
 *
 * ```ts
 * import { canRunRedisTests, startTestRedis } from '@otp-chat/redis-backend/testing';
 * describe.skipIf(!canRunRedisTests('my suite'))('my suite', () => {
 *   let redis: TestRedis;
 *   beforeAll(async () => { redis = await startTestRedis(); });
 *   afterAll(() => redis.stop());
 * });
 * ```
 */
export { writeDeadNodeRows } from './deadNodeRows.ts';
export { findRedisServer, freePort, RedisServer, type RedisServerOptions } from './RedisServer.ts';
export {
  canRunRedisTests,
  deleteKeysWithPrefix,
  type RedisAvailability,
  redisAvailability,
  startTestRedis,
  type TestRedis,
  uniquePrefix,
} from './testRedis.ts';
