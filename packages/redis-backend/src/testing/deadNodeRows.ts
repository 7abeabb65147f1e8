import { ActorRef } from '@otp-chat/actor';
import { Session, Sid } from '@otp-chat/session-manager';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../RedisKeys.ts';
import { encodeSession } from '../sessionCodec.ts';

/**
 * Writes `count` rows of `node` on `host` straight into Redis in the backend's layout (user hash,
 * server hash, node index), pipelined 5000 at a time: what a node that died leaves behind, for
 * tests and benchmarks of `cleanNode`. Users are `u0` … `u<count-1>`, resource `r`.
 */
export async function writeDeadNodeRows(
  redis: Redis,
  keys: RedisKeys,
  host: string,
  node: string,
  count: number,
): Promise<void> {
  for (let i = 0; i < count; i += 5000) {
    const pipe = redis.pipeline();
    for (let j = i; j < Math.min(i + 5000, count); j++) {
      // Built here, not with session-manager's makeRow: its testing entry needs vitest, which
      // a project using this entry (a benchmark, another test runner) may not have.
      const row = new Session(
        new Sid(1_700_000_000, j + 1, node, new ActorRef(node, j + 1)),
        `u${j}`,
        host,
        'r',
        undefined,
      );
      const userKey = keys.user(row.luser, row.lserver);
      const sf = keys.serverField(row);
      const value = encodeSession(row);
      pipe.hset(userKey, keys.userField(row), value);
      pipe.hset(keys.server(host), sf, value);
      pipe.hset(keys.node(host, node), sf, JSON.stringify([userKey, keys.userField(row)]));
    }
    await pipe.exec();
  }
}
