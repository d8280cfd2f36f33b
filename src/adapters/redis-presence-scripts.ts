/**
 * The presence store's Lua scripts (src/adapters/redis-presence-store.ts). A room's presence is one
 * hash in the room's slot: `h:<len>:<userId>:<owner>` = 1 per hold, `n:<userId>` = how many owners
 * hold the user, `s:<userId>` = the seq of the user's last flip. Seqs are the Redis clock in
 * microseconds when that is ahead of the last seq + 1, so a hash that expired and starts over still
 * outranks the marks a room kept. Numbers go back as strings: Lua would print large ones as 1.7e+15.
 */

const flipSeq = `
local function bump(user)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local seq = math.max(tonumber(redis.call('HGET', KEYS[1], 's:' .. user) or '0') + 1, now)
  redis.call('HSET', KEYS[1], 's:' .. user, string.format('%.0f', seq))
end
local function mark(user)
  local n = tonumber(redis.call('HGET', KEYS[1], 'n:' .. user) or '0')
  return {n > 0 and 1 or 0, redis.call('HGET', KEYS[1], 's:' .. user) or '0'}
end
`;

/** KEYS: presence. ARGV: userId, owner, ttlSeconds. Returns [online, seq, flipped]. */
export const holdScript = `${flipSeq}
local user = ARGV[1]
local flipped = 0
if redis.call('HSETNX', KEYS[1], 'h:' .. string.len(user) .. ':' .. user .. ':' .. ARGV[2], '1') == 1 then
  if redis.call('HINCRBY', KEYS[1], 'n:' .. user, 1) == 1 then
    bump(user)
    flipped = 1
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
local m = mark(user)
return {m[1], m[2], flipped}
`;

/**
 * KEYS: presence. ARGV: userId, owner. Returns [online, seq, flipped].
 * Callers release only what they held. A hold this hash does not have was lost with the hash
 * (evicted, expired, a failover): when nobody else holds the user, that is a flip to offline too,
 * so the room cannot stay online on a hold that no longer exists.
 */
export const releaseScript = `${flipSeq}
local user = ARGV[1]
local flipped = 0
if redis.call('HDEL', KEYS[1], 'h:' .. string.len(user) .. ':' .. user .. ':' .. ARGV[2]) == 1 then
  if redis.call('HINCRBY', KEYS[1], 'n:' .. user, -1) <= 0 then
    redis.call('HDEL', KEYS[1], 'n:' .. user)
    bump(user)
    flipped = 1
  end
elseif tonumber(redis.call('HGET', KEYS[1], 'n:' .. user) or '0') <= 0 then
  redis.call('HDEL', KEYS[1], 'n:' .. user)
  bump(user)
  flipped = 1
end
local m = mark(user)
return {m[1], m[2], flipped}
`;

/** KEYS: presence. ARGV: owner. Releases every hold of the owner; returns the users who went offline. */
export const releaseOwnerScript = `${flipSeq}
local flipped = {}
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  local len, rest = string.match(field, '^h:(%d+):(.*)$')
  if len then
    local user = string.sub(rest, 1, tonumber(len))
    if string.sub(rest, tonumber(len) + 2) == ARGV[1] then
      redis.call('HDEL', KEYS[1], field)
      if redis.call('HINCRBY', KEYS[1], 'n:' .. user, -1) <= 0 then
        redis.call('HDEL', KEYS[1], 'n:' .. user)
        bump(user)
        flipped[#flipped + 1] = user
      end
    end
  end
end
return flipped
`;

const nowMs = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** KEYS: owners. ARGV: owner. */
export const registerScript = `${nowMs}
redis.call('ZADD', KEYS[1], now, ARGV[1])
return 1
`;

/** KEYS: owners, claims. ARGV: owner. Returns 1 when the owner is alive and known, else 0. */
export const heartbeatScript = `${nowMs}
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 or not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[1])
return 1
`;

/**
 * KEYS: owners, claims. ARGV: staleMs, max. Claims up to `max` owners without a heartbeat for staleMs:
 * their score becomes now (no other sweeper takes them for another staleMs) and their heartbeats fail.
 */
export const claimStaleScript = `${nowMs}
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]), 'LIMIT', 0, tonumber(ARGV[2]))
for _, owner in ipairs(stale) do
  redis.call('ZADD', KEYS[1], now, owner)
  redis.call('SADD', KEYS[2], owner)
end
return stale
`;

/** KEYS: owners, claims, the owner's rooms. ARGV: owner. */
export const forgetScript = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
return 1
`;
