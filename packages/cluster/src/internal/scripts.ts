// The cluster's Lua scripts: each runs atomically in Redis and reads the time from Redis (TIME),
// so that no decision depends on the nodes' own clocks. Entries of the members hash are JSON
// `{ t, b, s, d, c }` (see ClusterKeys).

const NOW = `local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)`;

/**
 * Claims a name. KEYS: members, inbox, epoch. ARGV: name, token, timeoutMs, channel, lockPrefix,
 * newEpoch, fresh. Refused (`taken`) while another token's heartbeat is fresh, delayed
 * (`cleaning`) while a survivor cleans the previous incarnation; else writes the entry, empties the
 * inbox when `fresh` is `'1'` (a start: what was sent to a previous incarnation is not for this
 * one; a claim again after Redis lost its data keeps what others sent since) and announces `up`.
 * Returns `{'ok', now, epoch}`, `{'taken', token, ageMs}` or `{'cleaning', token}`.
 */
export const CLAIM = `${NOW}
redis.call('SET', KEYS[3], ARGV[6], 'NX')
local epoch = redis.call('GET', KEYS[3])
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local m = cjson.decode(cur)
  if m.t ~= ARGV[2] then
    if m.d == 0 and now - m.b <= tonumber(ARGV[3]) then
      return {'taken', m.t, tostring(now - m.b)}
    end
    if redis.call('EXISTS', ARGV[5] .. ARGV[1] .. ':' .. m.t) == 1 then
      return {'cleaning', m.t}
    end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode({t = ARGV[2], b = now, s = now, d = 0, c = 0}))
if ARGV[7] == '1' then redis.call('DEL', KEYS[2]) end
redis.call('PUBLISH', ARGV[4], 'up\\n' .. ARGV[1] .. '\\n' .. ARGV[2])
return {'ok', tostring(now), epoch}`;

/**
 * The heartbeat, and the membership read in the same call. KEYS: members, epoch. ARGV: name,
 * token, epoch, forgetAfterMs. Returns `{'reset', now}` when the epoch is gone or changed (Redis
 * lost its data), `{'gone', now}`, `{'taken', now, token}`, `{'down', now}`, or
 * `{'ok', now, name1, entry1, …}` (cleaned entries older than forgetAfterMs are deleted).
 */
export const BEAT = `${NOW}
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return {'reset', tostring(now)} end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return {'gone', tostring(now)} end
local m = cjson.decode(cur)
if m.t ~= ARGV[2] then return {'taken', tostring(now), m.t} end
if m.d ~= 0 then return {'down', tostring(now)} end
m.b = now
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(m))
local all = redis.call('HGETALL', KEYS[1])
local out = {'ok', tostring(now)}
for i = 1, #all, 2 do
  local e = cjson.decode(all[i + 1])
  if e.d ~= 0 and e.c == 1 and now - e.d > tonumber(ARGV[4]) then
    redis.call('HDEL', KEYS[1], all[i])
  else
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
return out`;

/**
 * Takes the clean-up of a dead incarnation. KEYS: members, lock. ARGV: name, deadToken,
 * timeoutMs, lockTtlMs, owner, channel. Only while the entry is still that incarnation, not
 * cleaned, and down or expired by server time; marks it down (so that it stops if it ever comes
 * back) and announces `down`. Returns `'ok'`, `'held'` (another survivor has it), `'alive'` or `'no'`.
 */
export const LOCK = `${NOW}
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 'no' end
local m = cjson.decode(cur)
if m.t ~= ARGV[2] or m.c == 1 then return 'no' end
if m.d == 0 and now - m.b <= tonumber(ARGV[3]) then return 'alive' end
if not redis.call('SET', KEYS[2], ARGV[5], 'NX', 'PX', ARGV[4]) then return 'held' end
if m.d == 0 then
  m.d = now
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(m))
  redis.call('PUBLISH', ARGV[6], 'down\\n' .. ARGV[1] .. '\\n' .. ARGV[2])
end
return 'ok'`;

/** Renews a lock this owner holds. KEYS: lock. ARGV: owner, ttlMs. Returns 1, or 0 when lost. */
export const RENEW = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/**
 * The clean-up is done. KEYS: members, lock, deadInbox. ARGV: name, deadToken, owner. Marks the
 * entry cleaned, deletes the dead inbox and the lock. Returns 0 when the lock was lost meanwhile.
 */
export const DONE = `if redis.call('GET', KEYS[2]) ~= ARGV[3] then return 0 end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local m = cjson.decode(cur)
  if m.t == ARGV[2] then
    m.c = 1
    redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(m))
  end
end
redis.call('DEL', KEYS[2], KEYS[3])
return 1`;

/** Releases a lock this owner holds (the clean-up failed: another survivor retries). KEYS: lock. ARGV: owner. */
export const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`;

/**
 * A graceful leave. KEYS: members. ARGV: name, token, channel. Marks the entry down (survivors
 * still run the clean-up, which finds nothing when the node closed its sessions) and announces it.
 */
export const LEAVE = `${NOW}
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
local m = cjson.decode(cur)
if m.t ~= ARGV[2] or m.d ~= 0 then return 0 end
m.d = now
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(m))
redis.call('PUBLISH', ARGV[3], 'down\\n' .. ARGV[1] .. '\\n' .. ARGV[2])
return 1`;
