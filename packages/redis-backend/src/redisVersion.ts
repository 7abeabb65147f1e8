/**
 * The oldest Redis the backend runs on, ejabberd's `ejabberd_sm_redis` `MIN_REDIS_VERSION`: 3.2.0,
 * the first with `redis.replicate_commands()`. The node clean-up script writes after `HSCAN`, a
 * command Redis before 5.0 treats as non-deterministic: without script effects replication
 * (`redis.replicate_commands()`, the default from 5.0 and the only mode from 7.0) such a script is
 * refused ("Write commands not allowed after non deterministic commands"). Everything else the
 * backend sends (`HSET` with one field, `HGETALL`, `HVALS`, `HSCAN`, `MULTI`, `PUBLISH`, `EVAL` with
 * cjson) is older.
 */
export const MIN_REDIS_VERSION = '3.2.0';

/**
 * `redis_version` from an `INFO server` reply, or `undefined` when it has none (some proxies and
 * Redis-compatible servers answer `INFO` without it).
 */
export function redisVersionOf(info: string): string | undefined {
  const m = /^redis_version:([^\r\n]*)/m.exec(info);
  return m === null ? undefined : m[1]!.trim();
}

/**
 * Compares dotted versions numerically, part by part (a missing part counts as 0, a non-numeric
 * one as 0): `10.0.0` is newer than `3.2.0`. ejabberd compares the binaries, which puts `10.0.0`
 * before `3.2.0`.
 */
export function compareRedisVersions(a: string, b: string): number {
  const pa = a.split('.').map(part);
  const pb = b.split('.').map(part);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

function part(s: string): number {
  const n = Number.parseInt(s, 10);
  return Number.isNaN(n) ? 0 : n;
}
