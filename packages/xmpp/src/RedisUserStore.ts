import { randomBytes } from 'node:crypto';
import { DEFAULTS } from './DEFAULTS.ts';
import { RegisterError } from './errors.ts';
import {
  equalStrings,
  matchesScram,
  prepareNewPassword,
  prepareOfferedPassword,
} from './internal/passwords.ts';
import { type ScramCredentials, scramCredentials } from './Scram.ts';
import type { PasswordFormat, UserStore } from './UserStore.ts';

/** The few hash commands the store needs; an ioredis `Redis` satisfies it. */
export interface RedisHashClient {
  hget(key: string, field: string): Promise<string | null>;
  hsetnx(key: string, field: string, value: string): Promise<number>;
  hset(key: string, field: string, value: string): Promise<number>;
  hdel(key: string, field: string): Promise<number>;
  hkeys(key: string): Promise<string[]>;
}

/** Options of a {@link RedisUserStore}. */
export interface RedisUserStoreOptions {
  /** Key prefix; one hash per virtual host, `<prefix>:<lserver>`. @default 'otp-chat:passwd' */
  readonly prefix?: string;
  /** @default 'plain' */
  readonly passwordFormat?: PasswordFormat;
  /** @default DEFAULTS.scramIterations */
  readonly scramIterations?: number;
}

interface StoredAccount {
  readonly password?: string;
  readonly salt: string;
  readonly iterations: number;
  readonly storedKey: string;
  readonly serverKey: string;
}

/**
 * Accounts in Redis: one hash per virtual host, one field per user holding a JSON record with the
 * SCRAM keys (and the SASLprep'd password in the `plain` format). SCRAM keys are computed at
 * registration, so no login runs PBKDF2 in the `plain` format.
 */
export class RedisUserStore implements UserStore {
  readonly name = 'redis';
  private readonly prefix: string;
  private readonly format: PasswordFormat;
  private readonly iterations: number;

  constructor(
    private readonly redis: RedisHashClient,
    options: RedisUserStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? 'otp-chat:passwd';
    this.format = options.passwordFormat ?? 'plain';
    this.iterations = options.scramIterations ?? DEFAULTS.scramIterations;
  }

  private key(lserver: string): string {
    return `${this.prefix}:${lserver}`;
  }

  private async load(luser: string, lserver: string): Promise<StoredAccount | undefined> {
    const raw = await this.redis.hget(this.key(lserver), luser);
    return raw === null ? undefined : (JSON.parse(raw) as StoredAccount);
  }

  async checkPassword(luser: string, lserver: string, password: string): Promise<boolean> {
    const account = await this.load(luser, lserver);
    if (account === undefined) return false;
    const prepared = prepareOfferedPassword(password);
    if (prepared === undefined) return false;
    if (account.password !== undefined) return equalStrings(account.password, prepared);
    return matchesScram(
      prepared,
      Buffer.from(account.salt, 'base64'),
      account.iterations,
      Buffer.from(account.storedKey, 'base64'),
    );
  }

  async scramCredentials(luser: string, lserver: string): Promise<ScramCredentials | undefined> {
    const account = await this.load(luser, lserver);
    if (account === undefined) return undefined;
    return {
      salt: Buffer.from(account.salt, 'base64'),
      iterations: account.iterations,
      storedKey: Buffer.from(account.storedKey, 'base64'),
      serverKey: Buffer.from(account.serverKey, 'base64'),
    };
  }

  async userExists(luser: string, lserver: string): Promise<boolean> {
    return (await this.redis.hget(this.key(lserver), luser)) !== null;
  }

  async register(luser: string, lserver: string, password: string): Promise<void> {
    const prepared = prepareNewPassword(luser, lserver, password);
    const scram: ScramCredentials = scramCredentials(prepared, randomBytes(16), this.iterations);
    const record: StoredAccount = {
      ...(this.format === 'plain' ? { password: prepared } : {}),
      salt: scram.salt.toString('base64'),
      iterations: scram.iterations,
      storedKey: scram.storedKey.toString('base64'),
      serverKey: scram.serverKey.toString('base64'),
    };
    const created = await this.redis.hsetnx(this.key(lserver), luser, JSON.stringify(record));
    if (created === 0) throw new RegisterError('exists', luser, lserver);
  }

  async removeUser(luser: string, lserver: string): Promise<boolean> {
    return (await this.redis.hdel(this.key(lserver), luser)) > 0;
  }

  async users(lserver: string): Promise<string[]> {
    return (await this.redis.hkeys(this.key(lserver))).sort();
  }
}
