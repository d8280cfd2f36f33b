/** Picks the store: Redis when REDIS_URL or REDIS_CLUSTER_NODES is set, else the embedded in-memory one. */
import { once } from 'node:events';
import type { Cluster, Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { EventBatch } from '../domain/events.js';
import type { Logger } from '../logger.js';
import type { PresenceStore } from '../ports/presence-store.js';
import type { ResolutionOutbox } from '../ports/resolution-outbox.js';
import type { RoomEvents } from '../ports/room-events.js';
import type { RoomStore } from '../ports/room-store.js';
import { MemoryPresenceStore } from './memory-presence-store.js';
import { MemoryResolutionOutbox } from './memory-resolution-outbox.js';
import { createMemoryAdapters } from './memory-room-store.js';
import { ClusterResolutionOutbox } from './redis-cluster-outbox.js';
import { createRedisConnections } from './redis-connections.js';
import { type RedisKeys, redisKeys } from './redis-keys.js';
import { RedisPresenceStore } from './redis-presence-store.js';
import { RedisRoomEvents } from './redis-room-events.js';
import { RedisResolutionOutbox } from './redis-resolution-outbox.js';
import { RedisRoomStore } from './redis-room-store.js';

export interface Adapters {
  store: RoomStore;
  events: RoomEvents;
  presence: PresenceStore;
  /** Resolutions waiting for the webhook; recorded by store commits only when a webhook is configured. */
  outbox: ResolutionOutbox;
  /** The Redis command connection and key names, for what else is shared across instances (rate limits). */
  redis?: { client: Redis | Cluster; keys: RedisKeys };
  /** "redis" or "memory", for the start-up message. */
  kind: 'redis' | 'memory';
  close(): Promise<void>;
}

/** Optional callbacks into the adapters (metrics). */
export interface AdapterHooks {
  /** A batch of events was handed to every local listener of its room. */
  onFanOut?(batch: EventBatch, listeners: number): void;
}

export async function createAdapters(config: Config, logger: Logger, hooks: AdapterHooks = {}): Promise<Adapters> {
  const { room } = config;
  if (!config.redis.url && !config.redis.clusterNodes) {
    const outbox = new MemoryResolutionOutbox();
    const { store, events } = createMemoryAdapters({ ...room, ...(config.resolutionWebhook ? { outbox } : {}) }, hooks.onFanOut);
    const presence = new MemoryPresenceStore();
    return { store, events, presence, outbox, kind: 'memory', close: async () => (await store.close(), events.close()) };
  }
  const connections = createRedisConnections(config.redis, logger);
  const { client, subscriber, cluster } = connections;
  await Promise.race([once(client, 'ready'), new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
  if (client.status !== 'ready') logger.warn('Redis is not answering yet; operations fail with STORE_UNAVAILABLE until it does');
  const keys = redisKeys(config.redis.keyPrefix);
  // Every script is defined before the first command: an auto-pipeline copies the client's scripts
  // when it is created, and one created earlier fails on a script defined later (ioredis #1931).
  // RedisRoomStore sends TIME as it is built, so it comes last.
  // On a Cluster every adapter call carries its own timer too (the Cluster client's retries can
  // outlast a node's commandTimeout); a single Redis's commandTimeout is enough there.
  const timeoutMs = cluster ? config.redis.timeoutMs : undefined;
  const presence = new RedisPresenceStore({ client, keys, ttlSeconds: room.ttlSeconds, timeoutMs, cluster });
  const outbox = cluster
    ? new ClusterResolutionOutbox({ client, keys, ttlSeconds: room.ttlSeconds, timeoutMs })
    : new RedisResolutionOutbox({ client, keys, ttlSeconds: room.ttlSeconds, timeoutMs });
  const store = new RedisRoomStore({ client, keys, ...room, timeoutMs: config.redis.timeoutMs, recordResolutions: !!config.resolutionWebhook, cluster });
  const events = new RedisRoomEvents({
    subscriber,
    keys,
    sharded: cluster,
    subscribeTimeoutMs: config.redis.timeoutMs,
    onError: (error) => logger.warn({ err: error }, 'a message on a room channel that is not a batch'),
    ...(hooks.onFanOut ? { onFanOut: hooks.onFanOut } : {}),
  });
  const repair = outbox instanceof ClusterResolutionOutbox && config.resolutionWebhook ? repairOutbox(outbox, logger) : undefined;
  return {
    store,
    events,
    presence,
    outbox,
    redis: { client, keys },
    kind: 'redis',
    close: async () => {
      clearInterval(repair);
      await events.close();
      await store.close();
      connections.disconnect();
    },
  };
}

/** How often each instance looks for resolutions a crash left out of the Cluster's outbox index. */
const OUTBOX_REPAIR_MS = 60_000;

function repairOutbox(outbox: ClusterResolutionOutbox, logger: Logger): NodeJS.Timeout {
  const run = () =>
    outbox.repair().then(
      (added) => added > 0 && logger.warn({ added }, 'resolution outbox: pending deliveries put back into the index'),
      (error: unknown) => logger.warn({ err: error }, 'resolution outbox repair failed; retried later'),
    );
  void run();
  const timer = setInterval(run, OUTBOX_REPAIR_MS);
  timer.unref();
  return timer;
}
