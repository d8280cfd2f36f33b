/** The presence tracker when the store misbehaves: lost replies, lost holds. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { MemoryPresenceStore } from '../../src/adapters/memory-presence-store.js';
import { createMemoryAdapters } from '../../src/adapters/memory-room-store.js';
import { redisKeys } from '../../src/adapters/redis-keys.js';
import { RedisPresenceStore } from '../../src/adapters/redis-presence-store.js';
import { defaultLimits } from '../../src/domain/limits.js';
import { StoreUnavailableError } from '../../src/errors.js';
import type { PresenceStore } from '../../src/ports/presence-store.js';
import { PresenceTracker } from '../../src/services/presence.js';
import { RoomService } from '../../src/services/room-service.js';
import { deleteUnder } from '../utils/redis-server.js';

async function setup(presence: PresenceStore) {
  const { store } = createMemoryAdapters({ ttlSeconds: 60, eventLogLength: 100, requestIdTtlSeconds: 60 });
  const rooms = new RoomService({ store, presence, limits: defaultLimits });
  const tracker = new PresenceTracker({ store: presence, rooms, instanceId: 'i1', onError: () => undefined, retryMs: 5 });
  await rooms.join('tx', 'alice', 'Alice');
  await rooms.join('tx', 'bob', 'Bob');
  const online = async () => (await rooms.room('tx')).participants.map((p) => [p.userId, p.online]);
  return { rooms, tracker, online };
}

/** A store whose chosen call runs and then loses its reply once, as a timed-out command that landed. */
function losingReplies(inner: PresenceStore, lose: { hold: number; release: number }): PresenceStore {
  return new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if ((property !== 'hold' && property !== 'release') || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (lose[property] > 0) {
          lose[property]--;
          throw new StoreUnavailableError('reply lost');
        }
        return result;
      };
    },
  });
}

describe('PresenceTracker', () => {
  it('a hold whose reply was lost still brings the participant online (its flip is written on the retry)', async () => {
    const lose = { hold: 1, release: 0 };
    const { tracker, online } = await setup(losingReplies(new MemoryPresenceStore(), lose));
    tracker.acquire('tx', 'alice');
    await tracker.settled();
    expect(lose.hold).toBe(0);
    expect(await online()).toEqual([
      ['alice', true],
      ['bob', false],
    ]);
  });

  it('a release whose reply was lost still takes the participant offline', async () => {
    const lose = { hold: 0, release: 1 };
    const { tracker, online } = await setup(losingReplies(new MemoryPresenceStore(), lose));
    tracker.acquire('tx', 'alice');
    await tracker.settled();
    tracker.release('tx', 'alice');
    await tracker.settled();
    expect(lose.release).toBe(0);
    expect(await online()).toEqual([
      ['alice', false],
      ['bob', false],
    ]);
  });

  it('a presence hash Redis lost: closing still takes everyone offline, and a reassert holds those still here again', async () => {
    const client = new Redis(inject('redisUrl'));
    const prefix = `crtest:tracker:${randomBytes(6).toString('hex')}:`;
    const keys = redisKeys(prefix);
    try {
      const presence = new RedisPresenceStore({ client, keys, ttlSeconds: 600 });
      const { tracker, online } = await setup(presence);
      tracker.acquire('tx', 'alice');
      tracker.acquire('tx', 'bob');
      await tracker.settled();
      expect(await online()).toEqual([
        ['alice', true],
        ['bob', true],
      ]);
      await client.del(keys.presence('tx')); // evicted, say
      expect(await presence.read('tx', ['alice', 'bob'])).toMatchObject([{ online: false }, { online: false }]);
      tracker.reassert();
      await tracker.settled();
      expect(await presence.read('tx', ['alice', 'bob'])).toMatchObject([{ online: true }, { online: true }]);
      expect(await client.ttl(keys.presence('tx'))).toBeGreaterThan(590);
      await client.del(keys.presence('tx')); // lost again, and then both leave
      tracker.release('tx', 'alice');
      tracker.release('tx', 'bob');
      await tracker.settled();
      expect(await online()).toEqual([
        ['alice', false],
        ['bob', false],
      ]);
    } finally {
      await deleteUnder(client, prefix);
      client.disconnect();
    }
  });
});
