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
  /** Hash of the room's presence: `h:<len>:<userId>:<owner>` holds, `n:<userId>` owners, `s:<userId>` seq. */
  presence(transactionId: string): string;
  /** Sorted set of live owners (instances), scored by their last heartbeat (Redis clock, ms). */
  presenceOwners: string;
  /** Set of owners claimed for a sweep: their heartbeats fail. */
  presenceClaims: string;
  /** Set of the rooms where an owner may hold someone. */
  presenceRooms(owner: string): string;
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
    presence: (id) => `${tag(id)}:presence`,
    // The owners' keys share one slot, so one script can claim or forget an owner.
    presenceOwners: `${prefix}{presence}:owners`,
    presenceClaims: `${prefix}{presence}:claims`,
    presenceRooms: (owner) => `${prefix}{presence}:rooms:${owner}`,
  };
}
