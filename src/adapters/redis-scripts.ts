/**
 * The Lua scripts of the Redis store. Each runs atomically on the server, so one mutation is one round
 * trip and instances writing the same room never interleave. The rules themselves are not here: the
 * caller computes the next state with src/domain/rules.ts and the script only checks that the room did
 * not move on (revision) and that the request is new, then writes, appends, expires and publishes.
 */

/** KEYS: room, request. ARGV: hasRequest ('1' | '0'). Returns [state|nil, rev|nil, requestDone]. */
export const loadScript = `
local room = redis.call('HMGET', KEYS[1], 'state', 'rev')
local done = 0
if ARGV[1] == '1' then done = redis.call('EXISTS', KEYS[2]) end
return {room[1], room[2], done}
`;

/** KEYS: room. ARGV: revision, epoch. Returns ['same'] | [state|nil, rev|nil]. */
export const loadIfChangedScript = `
local room = redis.call('HMGET', KEYS[1], 'rev', 'epoch')
if room[1] == ARGV[1] and room[2] == ARGV[2] then return {'same'} end
return {redis.call('HGET', KEYS[1], 'state'), room[1]}
`;

/**
 * KEYS: room, log, request, outbox entry, outbox due index (the last two: any key of the room's slot
 *       when the commit does not resolve).
 * ARGV: baseRev, state ('' = unchanged), version, epoch, ttlSeconds, historyMax, channel, the epoch as JSON
 *       ('' = publish nothing; else the batch `{"epoch":…,"events":[…]}` is published, spliced here from
 *       the event JSONs, so each event crosses the wire once),
 *       requestTtlSeconds, hasRequest, deadline (Redis clock, ms), resolution ('' = none, else
 *       webhook id), resolution body, outbox member, then one JSON per event (versions version-n+1 .. version).
 * Returns ['ok', rev] | ['conflict', state|nil, rev] | ['duplicate', state|nil, rev] | ['expired'].
 * A commit that reaches Redis after its caller gave up on it (the deadline) writes nothing, so a
 * STORE_UNAVAILABLE answer does not hide a write that lands later.
 * The log is the room's whole history, trimmed only past historyMax (approximately: MAXLEN ~).
 * A commit that resolves the room records its delivery in the same step: the entry (no TTL: it
 * outlives the room until delivered) and, due now, its place in the global index. On a Redis Cluster
 * the index lives in another slot: see the README, "After the agreement".
 */
export const commitScript = `
local now = redis.call('TIME')
if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) > tonumber(ARGV[11]) then
  return {'expired'}
end
local rev = tonumber(redis.call('HGET', KEYS[1], 'rev') or '0')
if ARGV[10] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then
  return {'duplicate', redis.call('HGET', KEYS[1], 'state'), rev}
end
if rev ~= tonumber(ARGV[1]) then
  return {'conflict', redis.call('HGET', KEYS[1], 'state'), rev}
end
if ARGV[2] ~= '' then
  rev = rev + 1
  redis.call('HSET', KEYS[1], 'state', ARGV[2], 'rev', rev, 'version', ARGV[3], 'epoch', ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  -- A room that starts over must not meet an older history's log (say, the hash was evicted alone).
  if rev == 1 then redis.call('DEL', KEYS[2]) end
  local count = #ARGV - 14
  if count > 0 then
    local first = tonumber(ARGV[3]) - count + 1
    for i = 1, count do
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], (first + i - 1) .. '-0', 'e', ARGV[14 + i])
    end
  end
  redis.call('EXPIRE', KEYS[2], ARGV[5])
  if ARGV[12] ~= '' and redis.call('EXISTS', KEYS[4]) == 0 then
    local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
    redis.call('HSET', KEYS[4], 'id', ARGV[12], 'body', ARGV[13], 'state', 'pending', 'attempts', 0, 'at', ms)
    redis.call('ZADD', KEYS[5], 'NX', ms, ARGV[14])
  end
end
if ARGV[10] == '1' then redis.call('SET', KEYS[3], '1', 'EX', ARGV[9]) end
if ARGV[8] ~= '' then redis.call('PUBLISH', ARGV[7], '{"epoch":' .. ARGV[8] .. ',"events":[' .. table.concat(ARGV, ',', 15) .. ']}') end
return {'ok', rev}
`;

/**
 * KEYS: room, log. ARGV: afterVersion, epoch ('' = any), logLength (the resume reach).
 * Returns ['events', epoch, version, entry...] | ['snapshot', state|nil].
 * A resume reaches back logLength events, however much history the stream keeps: further back, one
 * snapshot costs less than replaying thousands of events.
 */
export const readSinceScript = `
local meta = redis.call('HMGET', KEYS[1], 'version', 'epoch')
local version = tonumber(meta[1] or '0')
local after = tonumber(ARGV[1])
if version == 0 and after == 0 then return {'events', '', 0} end
if after > version or (after > 0 and ARGV[2] ~= '' and ARGV[2] ~= meta[2]) or version - after > tonumber(ARGV[3]) then
  return {'snapshot', redis.call('HGET', KEYS[1], 'state')}
end
if after == version then return {'events', meta[2], version} end
local entries = redis.call('XRANGE', KEYS[2], (after + 1) .. '-0', '+')
if #entries == 0 or entries[1][1] ~= (after + 1) .. '-0' then
  return {'snapshot', redis.call('HGET', KEYS[1], 'state')}
end
local out = {'events', meta[2], version}
for i = 1, #entries do out[#out + 1] = entries[i][2][2] end
return out
`;

/**
 * KEYS: room, log. ARGV: afterVersion, first.
 * Returns [epoch|'', version, entry...]: up to `first` events after afterVersion, in version order.
 */
export const readHistoryScript = `
local meta = redis.call('HMGET', KEYS[1], 'version', 'epoch')
local version = tonumber(meta[1] or '0')
local after = tonumber(ARGV[1])
if version == 0 then return {'', 0} end
local out = {meta[2], version}
if after >= version then return out end
local entries = redis.call('XRANGE', KEYS[2], (after + 1) .. '-0', '+', 'COUNT', tonumber(ARGV[2]))
for i = 1, #entries do out[#out + 1] = entries[i][2][2] end
return out
`;

/**
 * The commit script for a Redis Cluster: the same, but the batch goes out by SPUBLISH (sharded pub/sub:
 * only the room's shard carries it, where PUBLISH is broadcast to every node of the cluster), and
 * the resolution's entry is written without its place in the `{outbox}` index, which is on another
 * shard: the store adds it right after (src/adapters/redis-room-store.ts), and the outbox's repair
 * pass finds an entry a crash left out of the index. KEYS[5] is then any key of the room's slot.
 */
export const clusterCommitScript = commitScript
  .replace("redis.call('PUBLISH', ARGV[7],", "redis.call('SPUBLISH', ARGV[7],")
  .replace("    redis.call('ZADD', KEYS[5], 'NX', ms, ARGV[14])\n", '');
if (clusterCommitScript.includes("'PUBLISH'") || clusterCommitScript.includes('KEYS[5]')) {
  throw new Error('clusterCommitScript: the commit script changed; update its Cluster variant');
}
