import { Redis } from 'ioredis';
import { findRedisServer, RedisServer, type RedisServerOptions } from './RedisServer.ts';

/** How tests can get a Redis: their own `redis-server`, `REDIS_URL`, or none. */
export type RedisAvailability =
  | { readonly kind: 'binary'; readonly binary: string }
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'none' };

/** Checked synchronously, so that it can drive `describe.skipIf`. */
export function redisAvailability(): RedisAvailability {
  const binary = findRedisServer();
  if (binary !== undefined) return { kind: 'binary', binary };
  const url = process.env.REDIS_URL;
  if (url !== undefined && url !== '') return { kind: 'url', url };
  return { kind: 'none' };
}

/**
 * True when Redis tests can run (`needs: 'server'` also requires the binary, for tests that kill
 * Redis). Otherwise prints a loud skip notice and answers false, or throws when `REQUIRE_REDIS=1`
 * (CI), which turns the skip into a failure.
 */
export function canRunRedisTests(suite: string, needs: 'any' | 'server' = 'any'): boolean {
  const a = redisAvailability();
  if (a.kind === 'binary' || (a.kind === 'url' && needs === 'any')) return true;
  const why =
    needs === 'server'
      ? 'redis-server is not on PATH (this suite kills and restarts its own Redis; REDIS_URL is not enough)'
      : 'neither redis-server on PATH nor REDIS_URL';
  if (process.env.REQUIRE_REDIS === '1') throw new Error(`REQUIRE_REDIS=1 but ${why}: ${suite} cannot run`);
  process.stderr.write(`\n!!! SKIPPING ${suite}: ${why}. Set REQUIRE_REDIS=1 to make this a failure.\n\n`);
  return false;
}

/** A Redis for one test file: its own server when the binary exists, else `REDIS_URL`. */
export interface TestRedis {
  readonly url: string;
  /** The server this helper started, when it did (absent with `REDIS_URL`). */
  readonly server: RedisServer | undefined;
  /** Kills the server it started (a shared `REDIS_URL` server is left alone). */
  stop(): Promise<void>;
}

/** Starts (or points at) a Redis; see {@link redisAvailability}. */
export async function startTestRedis(options: RedisServerOptions = {}): Promise<TestRedis> {
  const a = redisAvailability();
  if (a.kind === 'binary') {
    const server = await RedisServer.start({ ...options, binary: options.binary ?? a.binary });
    return { url: server.url, server, stop: () => server.stop() };
  }
  if (a.kind === 'url') return { url: a.url, server: undefined, stop: async () => {} };
  throw new Error('no Redis for tests: install redis-server or set REDIS_URL');
}

/** A unique key prefix, so that tests sharing one Redis never see each other's keys. */
export function uniquePrefix(label = 'test'): string {
  return `${label}:${process.pid}:${Math.random().toString(36).slice(2, 10)}`;
}

/** Deletes every key under `prefix` (SCAN + UNLINK, in batches) with a short-lived connection. */
export async function deleteKeysWithPrefix(url: string, prefix: string): Promise<number> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  client.on('error', () => {});
  let removed = 0;
  try {
    await client.connect();
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) removed += await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return removed;
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}
