import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { redisKeys } from '../../src/adapters/redis-keys.js';
import { RedisResolutionOutbox } from '../../src/adapters/redis-resolution-outbox.js';
import { RedisRoomStore } from '../../src/adapters/redis-room-store.js';
import { deleteUnder, keysUnder } from '../utils/redis-server.js';
import { resolutionOutboxContract } from './resolution-outbox.contract.js';
import { RoomDriver, contractStoreOptions } from './room-store.contract.js';

const redisUrl = inject('redisUrl');

async function make(recordResolutions = true) {
  const prefix = `crtest:outbox:${randomBytes(8).toString('hex')}:`;
  const client = new Redis(redisUrl, { enableOfflineQueue: true, commandTimeout: 1500, maxRetriesPerRequest: 0 });
  const keys = redisKeys(prefix);
  // Scripts before the first command (src/adapters/index.ts): the store sends TIME as it is built.
  const outbox = new RedisResolutionOutbox({ client, keys, ttlSeconds: 3600 });
  const store = new RedisRoomStore({ client, keys, timeoutMs: 1500, recordResolutions, ...contractStoreOptions });
  return {
    store,
    outbox,
    client,
    keys,
    prefix,
    cleanup: async () => {
      await deleteUnder(client, prefix);
      client.disconnect();
    },
  };
}

resolutionOutboxContract('redis', () => make());

describe('Redis outbox only', () => {
  it('keeps the entry in the room slot without a TTL until delivered, then for the room TTL; the index in the {outbox} slot', async () => {
    const { store, outbox, client, keys, prefix, cleanup } = await make();
    try {
      const room = await RoomDriver.open(store, 'tx-keys');
      await room.join('u1');
      await room.join('u2');
      await room.apply('u1', { kind: 'setReady', isReady: true });
      await room.apply('u2', { kind: 'setReady', isReady: true });
      const entry = keys.outboxEntry('tx-keys', room.room.epoch);
      expect(entry).toBe(`${prefix}{tx-keys}:outbox:${room.room.epoch}`);
      expect(await keysUnder(client, prefix)).toEqual([keys.log('tx-keys'), entry, keys.outboxDue, keys.room('tx-keys')].sort());
      expect(await client.ttl(entry)).toBe(-1);
      expect(await client.hmget(entry, 'state', 'attempts')).toEqual(['pending', '0']);
      const [claim] = await outbox.claimDue(1, 5000);
      expect(await outbox.delivered(claim!)).toBe(true);
      expect(await client.hmget(entry, 'state', 'attempts')).toEqual(['delivered', '1']);
      expect(await client.ttl(entry)).toBeGreaterThan(3500);
      expect(await client.exists(keys.outboxDue)).toBe(0);
    } finally {
      await cleanup();
    }
  });

  it('a store built without recordResolutions records nothing', async () => {
    const { store, outbox, cleanup } = await make(false);
    try {
      const room = await RoomDriver.open(store, 'tx-off');
      await room.join('u1');
      await room.join('u2');
      await room.apply('u1', { kind: 'setReady', isReady: true });
      await room.apply('u2', { kind: 'setReady', isReady: true });
      expect(room.room.status).toBe('RESOLVED');
      expect(await outbox.pendingCount()).toBe(0);
    } finally {
      await cleanup();
    }
  });
});
