/**
 * The store, room events, presence and outbox adapters on a real 3-master Redis Cluster, built by
 * src/adapters/redis-connections.ts as the service builds them: the same contract suites as on one
 * Redis, and what only a Cluster has (shards, sharded pub/sub, the outbox split by slot).
 */
import { randomBytes } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterResolutionOutbox } from '../../src/adapters/redis-cluster-outbox.js';
import { createRedisConnections } from '../../src/adapters/redis-connections.js';
import { outboxMember, redisKeys } from '../../src/adapters/redis-keys.js';
import { RedisPresenceStore } from '../../src/adapters/redis-presence-store.js';
import { RedisRoomEvents } from '../../src/adapters/redis-room-events.js';
import { RedisRoomStore } from '../../src/adapters/redis-room-store.js';
import { StoreUnavailableError } from '../../src/errors.js';
import { type RedisClusterProcess, startRedisCluster } from '../utils/redis-cluster.js';
import { presenceStoreContract } from './presence-store.contract.js';
import { resolutionOutboxContract } from './resolution-outbox.contract.js';
import { BatchCollector, RoomDriver, contractStoreOptions, roomStoreContract } from './room-store.contract.js';

const TIMEOUT_MS = 1500;
let cluster: RedisClusterProcess;
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.dispose();
});

async function harness(recordResolutions = false) {
  const connections = createRedisConnections({ url: null, clusterNodes: cluster.nodes, timeoutMs: TIMEOUT_MS });
  const { client, subscriber } = connections;
  client.on('error', () => undefined);
  subscriber.on('error', () => undefined);
  if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
  const prefix = `crtest:cluster:${randomBytes(6).toString('hex')}:`;
  const keys = redisKeys(prefix);
  // Scripts before the first command, as in src/adapters/index.ts.
  const presence = new RedisPresenceStore({ client, keys, ttlSeconds: 1000, timeoutMs: TIMEOUT_MS, cluster: true });
  const outbox = new ClusterResolutionOutbox({ client, keys, ttlSeconds: 3600, timeoutMs: TIMEOUT_MS });
  const store = new RedisRoomStore({ client, keys, timeoutMs: TIMEOUT_MS, recordResolutions, cluster: true, ...contractStoreOptions });
  const events = new RedisRoomEvents({ subscriber, keys, sharded: true, subscribeTimeoutMs: TIMEOUT_MS });
  return {
    client: client as Cluster,
    keys,
    store,
    events,
    presence,
    outbox,
    // The cluster goes with its test file: nothing else shares it, so nothing to delete.
    cleanup: async () => {
      await events.close();
      connections.disconnect();
    },
  };
}

roomStoreContract('redis cluster', () => harness());
presenceStoreContract('redis cluster', async () => {
  const h = await harness();
  return { store: h.presence, cleanup: h.cleanup };
});
resolutionOutboxContract('redis cluster', () => harness(true));

/** Transaction ids whose rooms live on three different masters. */
async function roomsOnEveryMaster(): Promise<string[]> {
  const byMaster = new Map<number, string>();
  for (let i = 0; byMaster.size < 3; i++) {
    const tx = `tx-shard-${i}`;
    const master = await cluster.masterOf(`{${tx}}`);
    if (!byMaster.has(master)) byMaster.set(master, tx);
  }
  return [...byMaster.values()];
}

describe('Redis Cluster only', () => {
  it('commits and streams rooms of every shard by sharded pub/sub, which classic pub/sub does not see', async () => {
    const h = await harness();
    try {
      const rooms = await roomsOnEveryMaster();
      for (const tx of rooms) {
        const listener = new BatchCollector();
        const end = await h.events.subscribe(tx, listener);
        const room = await RoomDriver.open(h.store, tx);
        await room.join('u1');
        await room.select('u1', 'price', '1');
        const batches = await listener.until(2);
        expect(batches.map((b) => b.events.map((e) => [e.type, e.version]))).toEqual([[['ParticipantJoined', 1]], [['FieldSelected', 2]]]);
        const port = await cluster.masterOf(`{${tx}}`);
        const owner = h.client.nodes('master').find((node) => node.options.port === port)!;
        expect(await owner.call('PUBSUB', 'SHARDNUMSUB', h.keys.channel(tx))).toEqual([h.keys.channel(tx), 1]);
        expect(await owner.call('PUBSUB', 'NUMSUB', h.keys.channel(tx))).toEqual([h.keys.channel(tx), 0]);
        end();
        await expect.poll(() => owner.call('PUBSUB', 'SHARDNUMSUB', h.keys.channel(tx))).toEqual([h.keys.channel(tx), 0]);
        expect((await h.store.readSince(tx, 0)).kind).toBe('events');
      }
      await expect(h.store.ping()).resolves.toBeUndefined();
    } finally {
      await h.cleanup();
    }
  });

  it('a resolution whose index write was lost is put back by the repair pass, once', async () => {
    const h = await harness(true);
    try {
      const room = await RoomDriver.open(h.store, 'tx-repair');
      for (const user of ['u1', 'u2']) await room.join(user);
      for (const user of ['u1', 'u2']) await room.apply(user, { kind: 'setReady', isReady: true });
      const member = outboxMember('tx-repair', room.room.epoch);
      expect(await h.client.zrange(h.keys.outboxDue, '0', '-1')).toEqual([member]);
      // As if the instance died between the commit and the index write.
      await h.client.zrem(h.keys.outboxDue, member);
      expect(await h.outbox.claimDue(10, 5000)).toEqual([]);
      expect(await h.outbox.repair()).toBe(1);
      expect(await h.outbox.repair()).toBe(0);
      const [claim] = await h.outbox.claimDue(10, 5000);
      expect(claim).toMatchObject({ transactionId: 'tx-repair', epoch: room.room.epoch, attempt: 1 });
      expect(await h.outbox.delivered(claim!)).toBe(true);
      // Delivered: no longer pending, so a repair leaves it alone.
      expect(await h.outbox.repair()).toBe(0);
      expect(await h.outbox.pendingCount()).toBe(0);
    } finally {
      await h.cleanup();
    }
  });

  it("a shard's subscriber connection lost: ioredis subscribes again, every listener reads its log, and later batches arrive", async () => {
    const h = await harness();
    try {
      const [tx] = await roomsOnEveryMaster();
      const port = await cluster.masterOf(`{${tx}}`);
      const owner = h.client.nodes('master').find((node) => node.options.port === port)!;
      const channel = h.keys.channel(tx!);
      const listener = new BatchCollector();
      let resyncs = 0;
      listener.onResync = () => resyncs++;
      const end = await h.events.subscribe(tx!, listener);
      const room = await RoomDriver.open(h.store, tx!);
      await room.join('u1');
      await listener.until(1);
      const before = resyncs;
      // Closes the subscriber connections on the room's master (ours among them).
      await owner.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await expect.poll(() => resyncs, { timeout: 10_000 }).toBeGreaterThan(before);
      await expect.poll(() => owner.call('PUBSUB', 'SHARDNUMSUB', channel), { timeout: 5000 }).toEqual([channel, 1]);
      await room.select('u1', 'price', 'after');
      await listener.until(2);
      expect(listener.batches.map((batch) => batch.events.map((e) => e.version))).toEqual([[1], [2]]);
      end();
    } finally {
      await h.cleanup();
    }
  });

  // Last: it leaves a shard marked failed for a moment.
  it('a master that stops answering: calls on its shard fail with STORE_UNAVAILABLE within STORE_TIMEOUT_MS, a late commit writes nothing, all resumes', async () => {
    const h = await harness();
    try {
      const [tx] = await roomsOnEveryMaster();
      const master = await cluster.masterOf(`{${tx}}`);
      const room = await RoomDriver.open(h.store, tx!);
      await room.join('u1');
      cluster.pause(master);
      try {
        for (const call of [
          () => h.store.load(tx!),
          () => room.select('u1', 'price', 'late'),
          () => h.store.ping(),
          () => h.events.subscribe(tx!, new BatchCollector()),
        ]) {
          const started = Date.now();
          await expect(call()).rejects.toBeInstanceOf(StoreUnavailableError);
          const took = Date.now() - started;
          expect(took).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
          expect(took).toBeLessThan(TIMEOUT_MS + 300);
        }
      } finally {
        await cluster.resume(master);
      }
      await expect.poll(() => h.store.ping().then(() => 'ok', () => 'down'), { timeout: 10_000 }).toBe('ok');
      // The commit sent while the master hung ran after its deadline: nothing written.
      expect((await h.store.load(tx!)).room.version).toBe(1);
      await room.select('u1', 'price', 'now');
      expect((await h.store.load(tx!)).room.version).toBe(2);
    } finally {
      await h.cleanup();
    }
  }, 60_000);
});
