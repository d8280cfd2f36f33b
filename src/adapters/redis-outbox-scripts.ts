/**
 * The Lua scripts of the Redis resolution outbox (src/adapters/redis-resolution-outbox.ts). Entries are
 * written by the room's commit script (src/adapters/redis-scripts.ts); these claim and settle them.
 * Times are read on Redis's clock, so instances with skewed clocks agree on when a lease ends.
 * A lease is the delivery's score in the due index while claimed: settling with another score (a
 * claim that expired and was taken over) does nothing.
 */

const nowMs = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * KEYS: due, attempts. ARGV: max, leaseMs.
 * Returns [member, lease, attempt, ...] for each delivery claimed.
 */
export const claimScript = `
${nowMs}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for i = 1, #due do
  -- Leases of one delivery only grow, even within one millisecond: each claim's token is its own.
  local last = tonumber(redis.call('HGET', KEYS[2], 'lease:' .. due[i]) or '0')
  local lease = math.max(now + tonumber(ARGV[2]), last + 1)
  redis.call('HSET', KEYS[2], 'lease:' .. due[i], lease)
  redis.call('ZADD', KEYS[1], 'XX', lease, due[i])
  local attempt = redis.call('HINCRBY', KEYS[2], due[i], 1)
  out[#out + 1] = due[i]
  out[#out + 1] = lease
  out[#out + 1] = attempt
end
return out
`;

/**
 * KEYS: due, attempts, entry. ARGV: member, lease, entryTtlSeconds.
 * Returns 1, or 0 when the lease is no longer the caller's.
 */
export const deliveredScript = `
if tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '-1') ~= tonumber(ARGV[2]) then return 0 end
${nowMs}
local attempts = redis.call('HGET', KEYS[2], ARGV[1]) or '0'
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1], 'lease:' .. ARGV[1])
redis.call('HSET', KEYS[3], 'state', 'delivered', 'attempts', attempts, 'at', now)
-- Kept as long as a room for audits, then it goes.
redis.call('EXPIRE', KEYS[3], ARGV[3])
return 1
`;

/**
 * KEYS: due, attempts, entry. ARGV: member, lease, delayMs, error.
 * Returns 1, or 0 when the lease is no longer the caller's.
 */
export const retryLaterScript = `
if tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '-1') ~= tonumber(ARGV[2]) then return 0 end
${nowMs}
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[3], 'attempts', redis.call('HGET', KEYS[2], ARGV[1]) or '0', 'lastError', ARGV[4])
return 1
`;

/**
 * KEYS: due, attempts, failed, entry. ARGV: member, lease, error.
 * Returns 1, or 0 when the lease is no longer the caller's.
 */
export const failedScript = `
if tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '-1') ~= tonumber(ARGV[2]) then return 0 end
${nowMs}
local attempts = redis.call('HGET', KEYS[2], ARGV[1]) or '0'
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1], 'lease:' .. ARGV[1])
redis.call('ZADD', KEYS[3], now, ARGV[1])
redis.call('HSET', KEYS[4], 'state', 'failed', 'attempts', attempts, 'lastError', ARGV[3], 'at', now)
return 1
`;

/**
 * KEYS: due, attempts, failed, entry. ARGV: member.
 * Returns 1, or 0 when the delivery is not a failed one.
 */
export const requeueScript = `
if not redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 0 end
${nowMs}
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1], 'lease:' .. ARGV[1])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('HSET', KEYS[4], 'state', 'pending', 'attempts', 0)
return 1
`;
