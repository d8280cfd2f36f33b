/**
 * Every Redis key and channel of the service, spelled here and nowhere else. All keys of one room share
 * the hash tag `{transactionId}`, so one room lives in one Redis Cluster slot and its Lua scripts may touch
 * all of them. transactionId cannot contain braces (see src/domain/limits.ts).
 */
export interface RedisKeys {
  /** Hash: state (JSON), rev, version, epoch. */
  room(transactionId: string): string;
  /**
   * Stream of the room's events, its whole history up to HISTORY_MAX_EVENTS: entry id `<version>-0`,
   * field `e` = the event's JSON. Resumes read only its last EVENT_LOG_LENGTH entries.
   */
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
  /**
   * Hash of one resolution's delivery, in the room's slot (written by the commit that resolves):
   * id, body, state (pending | delivered | failed), attempts, lastError, at.
   */
  outboxEntry(transactionId: string, epoch: string): string;
  /** SCAN pattern of every outbox entry (with other keys that match it: check with parseOutboxEntry). */
  outboxEntryPattern: string;
  /** The room and epoch of an outbox entry's key, or null for any other key. */
  parseOutboxEntry(key: string): { transactionId: string; epoch: string } | null;
  /** Sorted set of deliveries to make, member `outboxMember`, scored by when due or when the lease ends (Redis clock, ms). */
  outboxDue: string;
  /** Hash: per delivery still to make, `<member>` attempts counted and `lease:<member>` its last lease. */
  outboxAttempts: string;
  /** Sorted set of deliveries given up, scored by when (Redis clock, ms). */
  outboxFailed: string;
  /** Prefix of the per-user mutation rate counters; rate-limiter-flexible appends ":" + userId. */
  rateLimitPrefix: string;
}

/** The outbox's name of one resolution: a room resolves at most once per epoch. */
export const outboxMember = (transactionId: string, epoch: string) => JSON.stringify([transactionId, epoch]);

export function parseOutboxMember(member: string): { transactionId: string; epoch: string } {
  const [transactionId, epoch] = JSON.parse(member) as [string, string];
  return { transactionId, epoch };
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
    outboxEntry: (id, epoch) => `${tag(id)}:outbox:${epoch}`,
    // The prefix's own glob characters are escaped, so that it matches only itself.
    outboxEntryPattern: `${prefix.replace(/[*?[\]\\]/g, '\\$&')}{*}:outbox:*`,
    parseOutboxEntry: (key) => {
      if (!key.startsWith(`${prefix}{`)) return null;
      const match = /^\{([^{}]+)\}:outbox:(.+)$/.exec(key.slice(prefix.length));
      return match ? { transactionId: match[1]!, epoch: match[2]! } : null;
    },
    // The outbox's global keys share one slot, so a claim is one script.
    outboxDue: `${prefix}{outbox}:due`,
    outboxAttempts: `${prefix}{outbox}:attempts`,
    outboxFailed: `${prefix}{outbox}:failed`,
    rateLimitPrefix: `${prefix}rate`,
  };
}
