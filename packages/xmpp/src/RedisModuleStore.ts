import { DEFAULTS } from './DEFAULTS.ts';
import { ModuleStoreError } from './errors.ts';
import type { ModuleStore } from './ModuleStore.ts';

/** The Redis commands the store needs; an ioredis `Redis` satisfies it. */
export interface RedisModuleClient {
  hget(key: string, field: string): Promise<string | null>;
  hset(key: string, field: string, value: string): Promise<number>;
  hdel(key: string, field: string): Promise<number>;
  hgetall(key: string): Promise<Record<string, string>>;
  del(key: string): Promise<number>;
  rpush(key: string, value: string): Promise<number>;
  rpop(key: string): Promise<string | null>;
  lrange(key: string, start: number, stop: number): Promise<string[]>;
  ltrim(key: string, start: number, stop: number): Promise<'OK'>;
  llen(key: string): Promise<number>;
}

/** Options of a {@link RedisModuleStore}. */
export interface RedisModuleStoreOptions {
  /** Key prefix: `<prefix>:<table>:<us>` (a hash) and `<prefix>:<table>:<us>:list`. @default 'otp-chat:mod' */
  readonly prefix?: string;
  /** @default DEFAULTS.moduleStoreTimeoutMs */
  readonly timeoutMs?: number;
}

/**
 * {@link ModuleStore} in Redis (the same Redis as `RedisBackend`'s sessions): one hash per user and
 * table, one list per user and list table. A bounded append is `RPUSH` then, past the bound, `RPOP`
 * of what it added (two racing appends past the bound both fail, never both stay); `takeAll` reads
 * the list and trims what it read, so that a message appended meanwhile stays for the next take.
 */
export class RedisModuleStore implements ModuleStore {
  readonly name = 'redis';
  private readonly prefix: string;
  private readonly timeoutMs: number;

  constructor(
    private readonly redis: RedisModuleClient,
    options: RedisModuleStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? 'otp-chat:mod';
    this.timeoutMs = options.timeoutMs ?? DEFAULTS.moduleStoreTimeoutMs;
  }

  private key(table: string, us: string): string {
    return `${this.prefix}:${table}:${us}`;
  }

  private timed<T>(operation: string, p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ModuleStoreError(this.name, operation, 'timeout')), this.timeoutMs);
    });
    return Promise.race([
      p.catch((error: unknown) => {
        throw new ModuleStoreError(this.name, operation, 'failed', { cause: error });
      }),
      timeout,
    ]).finally(() => clearTimeout(timer));
  }

  async getAll(table: string, us: string): Promise<ReadonlyMap<string, string>> {
    const h = await this.timed('getAll', this.redis.hgetall(this.key(table, us)));
    return new Map(Object.entries(h));
  }

  async get(table: string, us: string, field: string): Promise<string | undefined> {
    return (await this.timed('get', this.redis.hget(this.key(table, us), field))) ?? undefined;
  }

  async set(table: string, us: string, field: string, value: string): Promise<void> {
    await this.timed('set', this.redis.hset(this.key(table, us), field, value));
  }

  async delete(table: string, us: string, field: string): Promise<void> {
    await this.timed('delete', this.redis.hdel(this.key(table, us), field));
  }

  async deleteAll(table: string, us: string): Promise<void> {
    await this.timed('deleteAll', this.redis.del(this.key(table, us)));
    await this.timed('deleteAll', this.redis.del(`${this.key(table, us)}:list`));
  }

  async append(table: string, us: string, value: string, max: number): Promise<boolean> {
    const k = `${this.key(table, us)}:list`;
    const n = await this.timed('append', this.redis.rpush(k, value));
    if (n <= max) return true;
    await this.timed('append', this.redis.rpop(k));
    return false;
  }

  async readList(table: string, us: string): Promise<string[]> {
    return this.timed('readList', this.redis.lrange(`${this.key(table, us)}:list`, 0, -1));
  }

  async takeAll(table: string, us: string): Promise<string[]> {
    const k = `${this.key(table, us)}:list`;
    const list = await this.timed('takeAll', this.redis.lrange(k, 0, -1));
    if (list.length > 0) await this.timed('takeAll', this.redis.ltrim(k, list.length, -1));
    return list;
  }

  async count(table: string, us: string): Promise<number> {
    return this.timed('count', this.redis.llen(`${this.key(table, us)}:list`));
  }
}
