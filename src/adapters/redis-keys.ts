/**
 * Every Redis key and channel of the service, spelled here and nowhere else. All keys of one room share
 * the hash tag `{transactionId}`, so one room lives in one Redis Cluster slot and its Lua scripts may touch
 * all of them. transactionId cannot contain braces (see src/domain/limits.ts).
 */
export interface RedisKeys {
  /** Hash: state (JSON), rev, version, epoch. */
  room(transactionId: string): string;
  /** Stream of the room's recent events; entry id `<version>-0`, field `e` = the event's JSON. */
  log(transactionId: string): string;
  /** String remembered for a succeeded requestId. */
  request(transactionId: string, userId: string, requestId: string): string;
  /** Pub/sub channel of the room's committed event batches. */
  channel(transactionId: string): string;
  /** Prefix of the per-user mutation rate counters; rate-limiter-flexible appends ":" + userId. */
  rateLimitPrefix: string;
}

/** @param prefix put before every key and channel, e.g. `cr:` (REDIS_KEY_PREFIX). */
export function redisKeys(prefix: string): RedisKeys {
  const tag = (transactionId: string) => `${prefix}{${transactionId}}`;
  return {
    room: (id) => `${tag(id)}:room`,
    log: (id) => `${tag(id)}:log`,
    // The user id's length keeps "a:b" + "c" apart from "a" + "b:c".
    request: (id, userId, requestId) => `${tag(id)}:req:${userId.length}:${userId}:${requestId}`,
    channel: (id) => `${tag(id)}:events`,
    rateLimitPrefix: `${prefix}rate`,
  };
}
