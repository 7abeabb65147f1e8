// The UserStore contract (ejabberd_auth as the C2S uses it), one table run on every store and
// password format: MemoryUserStore and RedisUserStore on a real Redis, `plain` and `scram`.
import {
  canRunRedisTests,
  startTestRedis,
  type TestRedis,
  uniquePrefix,
} from '@otp-chat/redis-backend/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegisterError } from '../src/errors.ts';
import { MemoryUserStore } from '../src/MemoryUserStore.ts';
import { RedisUserStore } from '../src/RedisUserStore.ts';
import { scramCredentials } from '../src/Scram.ts';
import type { PasswordFormat, UserStore } from '../src/UserStore.ts';

const ITERATIONS = 64; // small: these tests are about the contract, not PBKDF2's cost
const redisOk = canRunRedisTests('@otp-chat/xmpp RedisUserStore');
let redis: TestRedis | undefined;
let client: Redis | undefined;

beforeAll(async () => {
  if (!redisOk) return;
  redis = await startTestRedis();
  client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
});
afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

const stores: Array<{ name: string; format: PasswordFormat; redis: boolean; make: () => UserStore }> = [];
for (const format of ['plain', 'scram'] as const) {
  stores.push({
    name: `MemoryUserStore ${format}`,
    format,
    redis: false,
    make: () => new MemoryUserStore({ passwordFormat: format, scramIterations: ITERATIONS }),
  });
  stores.push({
    name: `RedisUserStore ${format}`,
    format,
    redis: true,
    make: () =>
      new RedisUserStore(client!, {
        prefix: uniquePrefix('passwd'),
        passwordFormat: format,
        scramIterations: ITERATIONS,
      }),
  });
}

/** The RegisterError `register` fails with, thrown (memory) or rejected (Redis). */
async function registerError(register: () => unknown): Promise<RegisterError> {
  try {
    await register();
  } catch (error) {
    expect(error).toBeInstanceOf(RegisterError);
    return error as RegisterError;
  }
  throw new Error('expected a RegisterError, the call succeeded');
}

describe.each(stores)('$name', (store) => {
  const skip = store.redis && !redisOk;
  describe.skipIf(skip)(
    skip ? 'skipped: no redis-server on PATH and no REDIS_URL' : 'UserStore contract',
    () => {
      it('register, then PLAIN checks: the right password only, SASLprep applied on both sides', async () => {
        const s = store.make();
        await s.register('alice', 'localhost', 'I\u00ADX'); // soft hyphen: mapped to nothing (RFC 4013 §2.1)
        expect(await s.checkPassword('alice', 'localhost', 'IX')).toBe(true);
        expect(await s.checkPassword('alice', 'localhost', 'I\u00ADX')).toBe(true);
        expect(await s.checkPassword('alice', 'localhost', 'ix')).toBe(false);
        expect(await s.checkPassword('alice', 'localhost', 'I\u0007X')).toBe(false); // prohibited: no match
        expect(await s.checkPassword('alice', 'other.host', 'IX')).toBe(false);
        expect(await s.checkPassword('nobody', 'localhost', 'IX')).toBe(false);
      });

      it('SCRAM credentials are the keys of the prepared password; undefined for an unknown user', async () => {
        const s = store.make();
        await s.register('bob', 'localhost', 'p\u00E4ss');
        const c = await s.scramCredentials('bob', 'localhost');
        expect(c).toBeDefined();
        const expected = scramCredentials('p\u00E4ss', c!.salt, c!.iterations);
        expect(c!.iterations).toBe(ITERATIONS);
        expect(c!.storedKey.equals(expected.storedKey)).toBe(true);
        expect(c!.serverKey.equals(expected.serverKey)).toBe(true);
        expect(await s.scramCredentials('nobody', 'localhost')).toBeUndefined();
        // Two users with one password get different salts.
        await s.register('carol', 'localhost', 'p\u00E4ss');
        const other = await s.scramCredentials('carol', 'localhost');
        expect(other!.salt.equals(c!.salt)).toBe(false);
      });

      it('register refuses a taken name, an empty user and an empty or unpreparable password', async () => {
        const s = store.make();
        await s.register('dave', 'localhost', 'one');
        expect((await registerError(() => s.register('dave', 'localhost', 'two'))).reason).toBe('exists');
        expect(await s.checkPassword('dave', 'localhost', 'one')).toBe(true); // the first stays
        expect((await registerError(() => s.register('', 'localhost', 'x'))).reason).toBe('invalid-user');
        expect((await registerError(() => s.register('erin', 'localhost', ''))).reason).toBe(
          'invalid-password',
        );
        expect((await registerError(() => s.register('erin', 'localhost', '\u00AD'))).reason).toBe(
          'invalid-password',
        );
        expect((await registerError(() => s.register('erin', 'localhost', 'a\u0007'))).reason).toBe(
          'invalid-password',
        );
        expect(await s.userExists('erin', 'localhost')).toBe(false);
      });

      it('userExists, users (sorted, per host) and removeUser', async () => {
        const s = store.make();
        for (const u of ['zed', 'amy', 'kim']) await s.register(u, 'localhost', 'pw');
        await s.register('amy', 'other.host', 'pw');
        expect(await s.users('localhost')).toEqual(['amy', 'kim', 'zed']);
        expect(await s.users('other.host')).toEqual(['amy']);
        expect(await s.users('empty.host')).toEqual([]);
        expect(await s.userExists('kim', 'localhost')).toBe(true);
        expect(await s.userExists('kim', 'other.host')).toBe(false);
        expect(await s.removeUser('kim', 'localhost')).toBe(true);
        expect(await s.removeUser('kim', 'localhost')).toBe(false);
        expect(await s.userExists('kim', 'localhost')).toBe(false);
        expect(await s.checkPassword('kim', 'localhost', 'pw')).toBe(false);
        expect(await s.users('localhost')).toEqual(['amy', 'zed']);
        expect(await s.userExists('amy', 'other.host')).toBe(true);
      });
    },
  );
});

describe.skipIf(!redisOk)('RedisUserStore storage', () => {
  it('one hash per host under the prefix; the scram format stores no password', async () => {
    for (const format of ['plain', 'scram'] as const) {
      const prefix = uniquePrefix('passwd');
      const s = new RedisUserStore(client!, { prefix, passwordFormat: format, scramIterations: ITERATIONS });
      await s.register('alice', 'localhost', 'secret');
      const raw = await client!.hget(`${prefix}:localhost`, 'alice');
      const record = JSON.parse(raw!) as Record<string, unknown>;
      expect(Object.keys(record).sort()).toEqual(
        format === 'plain'
          ? ['iterations', 'password', 'salt', 'serverKey', 'storedKey']
          : ['iterations', 'salt', 'serverKey', 'storedKey'],
      );
      // A second store on the same prefix (another process, a restart) sees the account.
      const again = new RedisUserStore(client!, { prefix, passwordFormat: format });
      expect(await again.checkPassword('alice', 'localhost', 'secret')).toBe(true);
      // Another prefix does not.
      const elsewhere = new RedisUserStore(client!, { prefix: uniquePrefix('passwd') });
      expect(await elsewhere.userExists('alice', 'localhost')).toBe(false);
    }
  });

  it('a Redis error reaches the caller (no account is invented or lost)', async () => {
    const failing = {
      hget: () => Promise.reject(new Error('READONLY')),
      hsetnx: () => Promise.reject(new Error('READONLY')),
      hset: () => Promise.reject(new Error('READONLY')),
      hdel: () => Promise.reject(new Error('READONLY')),
      hkeys: () => Promise.reject(new Error('READONLY')),
    };
    const s = new RedisUserStore(failing, { scramIterations: ITERATIONS });
    await expect(s.checkPassword('a', 'h', 'p')).rejects.toThrow('READONLY');
    await expect(s.register('a', 'h', 'p')).rejects.toThrow('READONLY');
    await expect(s.users('h')).rejects.toThrow('READONLY');
  });
});
