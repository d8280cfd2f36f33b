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

/*
 * On a Redis Cluster an entry lives in its room's slot and the index in the `{outbox}` slot, so no
 * script may touch both: each settle splits into an entry step and an index step (README, "After the
 * agreement"). The index steps below are the scripts above without the entry; entrySettleScript is
 * the entry step.
 */

/** KEYS: due, attempts. ARGV: member, lease. Returns 1, or 0 when the lease is no longer the caller's. */
export const indexDeliveredScript = `
if tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '-1') ~= tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1], 'lease:' .. ARGV[1])
return 1
`;

/** KEYS: due, attempts. ARGV: member, lease, delayMs. Returns attempts counted, or -1 when the lease is no longer the caller's. */
export const indexRetryLaterScript = `
if tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '-1') ~= tonumber(ARGV[2]) then return -1 end
${nowMs}
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[3]), ARGV[1])
return tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
`;

/** KEYS: due, attempts, failed. ARGV: member, lease. Returns 1, or 0 when the lease is no longer the caller's. */
export const indexFailedScript = `
if tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '-1') ~= tonumber(ARGV[2]) then return 0 end
${nowMs}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1], 'lease:' .. ARGV[1])
redis.call('ZADD', KEYS[3], now, ARGV[1])
return 1
`;

/** KEYS: due, attempts, failed. ARGV: member. Returns 1, or 0 when the delivery is not a failed one. */
export const indexRequeueScript = `
if not redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 0 end
${nowMs}
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1], 'lease:' .. ARGV[1])
redis.call('ZADD', KEYS[1], now, ARGV[1])
return 1
`;

/**
 * KEYS: entry. ARGV: state ('' = keep), attempts, lastError ('' = keep), ttlSeconds (0 = none).
 * Writes an entry that exists (a lost one is not made up); `at` becomes now. Returns 1, or 0 when absent.
 */
export const entrySettleScript = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
${nowMs}
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'state', ARGV[1], 'at', now) end
redis.call('HSET', KEYS[1], 'attempts', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'lastError', ARGV[3]) end
if tonumber(ARGV[4]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
return 1
`;
