/**
 * One batch of node clean-up (ejabberd's `priv/lua/redis_sm.lua`), run with EVAL.
 *
 * KEYS[1] node index, KEYS[2] server hash; ARGV[1] HSCAN cursor, ARGV[2] COUNT, ARGV[3] `'1'` to
 * return the removed rows, ARGV[4] the invalidation channel, ARGV[5] the publishing instance.
 * Returns `{nextCursor, removedCount, row...}`. The cursor is kept by the caller (a restarted
 * clean-up starts again from 0, which is harmless: every batch deletes what it scanned). Node index
 * values are JSON `[userKey, userField]` decoded with cjson: no `||` guessing as in ejabberd.
 * One flush message per non-empty batch invalidates every node's cache.
 *
 * It writes after `HSCAN`, which Redis before 5.0 counts as non-deterministic: the first line
 * switches to effects replication (`redis.replicate_commands()`, Redis 3.2 and later, as ejabberd's
 * `redis_sm.lua`), so the script runs on every version from `MIN_REDIS_VERSION` on; from Redis 5 it
 * is the default (and from 7.0 the only mode, the call a no-op).
 */
export const CLEAN_NODE_SCRIPT = `
if redis.replicate_commands then redis.replicate_commands() end
local r = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local kv = r[2]
local out = {r[1], 0}
local n = 0
for i = 1, #kv, 2 do
  local ok, loc = pcall(cjson.decode, kv[i + 1])
  if ok and type(loc) == 'table' and type(loc[1]) == 'string' and type(loc[2]) == 'string' then
    if ARGV[3] == '1' then
      local v = redis.call('HGET', loc[1], loc[2])
      if v then out[#out + 1] = v end
    end
    redis.call('HDEL', loc[1], loc[2])
  end
  redis.call('HDEL', KEYS[2], kv[i])
  redis.call('HDEL', KEYS[1], kv[i])
  n = n + 1
end
out[2] = n
if n > 0 then redis.call('PUBLISH', ARGV[4], ARGV[5] .. '\\n*') end
return out
`;
