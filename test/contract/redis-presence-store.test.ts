import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { redisKeys } from '../../src/adapters/redis-keys.js';
import { RedisPresenceStore } from '../../src/adapters/redis-presence-store.js';
import { StoreUnavailableError } from '../../src/errors.js';
import { deleteUnder, keysUnder, startRedisServer } from '../utils/redis-server.js';
import { presenceStoreContract } from './presence-store.contract.js';

/** A client built as src/adapters/index.ts builds it, on a key prefix of the test's own. */
async function harness(url = inject('redisUrl')) {
  const prefix = `crtest:presence:${randomBytes(8).toString('hex')}:`;
  const client = new Redis(url, {
    connectTimeout: 2000,
    retryStrategy: (attempt: number) => Math.min(100 * attempt, 1000),
    enableOfflineQueue: false,
    commandTimeout: 1500,
    maxRetriesPerRequest: 0,
    enableAutoPipelining: true,
  });
  client.on('error', () => undefined);
  const keys = redisKeys(prefix);
  const store = new RedisPresenceStore({ client, keys, ttlSeconds: 1000 });
  if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
  return {
    prefix,
    client,
    keys,
    store,
    cleanup: async () => {
      await deleteUnder(client, prefix).catch(() => undefined);
      client.disconnect();
    },
  };
}

presenceStoreContract('redis', async () => {
  const { store, cleanup } = await harness();
  return { store, cleanup };
});

describe('redis presence store only', () => {
  it("keeps a room's presence in the room's slot, with the room's TTL, and the owners under one tag", async () => {
    const h = await harness();
    try {
      await h.store.register('A');
      await h.store.hold('tx-1', 'alice', 'A');
      expect(await keysUnder(h.client, h.prefix)).toEqual(
        [h.keys.presence('tx-1'), h.keys.presenceOwners, h.keys.presenceRooms('A')].sort(),
      );
      expect(h.keys.presence('tx-1')).toContain('{tx-1}');
      const ttl = await h.client.ttl(h.keys.presence('tx-1'));
      expect(ttl).toBeGreaterThanOrEqual(998);
      expect(ttl).toBeLessThanOrEqual(1000);
      // A hash that expired starts over, and its seqs still outrank the marks handed out before.
      const old = (await h.store.read('tx-1', ['alice']))[0]!.seq;
      await h.client.del(h.keys.presence('tx-1'));
      expect((await h.store.hold('tx-1', 'alice', 'B')).mark.seq).toBeGreaterThan(old);
    } finally {
      await h.cleanup();
    }
  });

  it('fails with StoreUnavailableError while Redis is away, and works again when it is back', async () => {
    const redis = await startRedisServer();
    const h = await harness(redis.url);
    try {
      await h.store.hold('tx', 'alice', 'A');
      await redis.stop();
      await expect(h.store.release('tx', 'alice', 'A')).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(h.store.heartbeat('A')).rejects.toBeInstanceOf(StoreUnavailableError);
      await redis.restart();
      await new Promise<void>((resolve) => (h.client.status === 'ready' ? resolve() : h.client.once('ready', () => resolve())));
      expect(await h.store.hold('tx', 'alice', 'A')).toMatchObject({ flipped: true, mark: { online: true } });
    } finally {
      await h.cleanup();
      await redis.dispose();
    }
  });
});
