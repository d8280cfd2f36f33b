/** Picks the store: Redis when REDIS_URL is set, else the embedded in-memory one. */
import { once } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';
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
  redis?: { client: Redis; keys: RedisKeys };
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
  if (!config.redis.url) {
    const outbox = new MemoryResolutionOutbox();
    const { store, events } = createMemoryAdapters({ ...room, ...(config.resolutionWebhook ? { outbox } : {}) }, hooks.onFanOut);
    const presence = new MemoryPresenceStore();
    return { store, events, presence, outbox, kind: 'memory', close: async () => (await store.close(), events.close()) };
  }
  const common: RedisOptions = {
    connectTimeout: 2000,
    // Keep trying, at most a second apart, so the service recovers by itself when Redis is back.
    retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
  };
  // Commands fail at once while Redis is away, and after timeoutMs when it does not answer.
  const client = new Redis(config.redis.url, {
    ...common,
    enableOfflineQueue: false,
    commandTimeout: config.redis.timeoutMs,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // Commands issued in the same tick (many rooms writing at once) share one socket write.
    enableAutoPipelining: true,
  });
  // The subscriber queues (un)subscribes while away and re-subscribes its channels when back.
  const subscriber = new Redis(config.redis.url, { ...common, maxRetriesPerRequest: null });
  for (const [name, connection] of [['command', client], ['subscriber', subscriber]] as const) {
    let down = false;
    connection.on('error', (error: Error) => {
      if (!down) logger.warn({ connection: name, err: error.message }, 'Redis connection lost; retrying');
      down = true;
    });
    connection.on('ready', () => {
      if (down) logger.info({ connection: name }, 'Redis connection back');
      down = false;
    });
  }
  await Promise.race([once(client, 'ready'), new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
  if (client.status !== 'ready') logger.warn('Redis is not answering yet; operations fail with STORE_UNAVAILABLE until it does');
  const keys = redisKeys(config.redis.keyPrefix);
  // Every script is defined before the first command: an auto-pipeline copies the client's scripts
  // when it is created, and one created earlier fails on a script defined later (ioredis #1931).
  // RedisRoomStore sends TIME as it is built, so it comes last.
  const presence = new RedisPresenceStore({ client, keys, ttlSeconds: room.ttlSeconds });
  const outbox = new RedisResolutionOutbox({ client, keys, ttlSeconds: room.ttlSeconds });
  const store = new RedisRoomStore({ client, keys, ...room, timeoutMs: config.redis.timeoutMs, recordResolutions: !!config.resolutionWebhook });
  const events = new RedisRoomEvents({
    subscriber,
    keys,
    subscribeTimeoutMs: config.redis.timeoutMs,
    onError: (error) => logger.warn({ err: error }, 'a message on a room channel that is not a batch'),
    ...(hooks.onFanOut ? { onFanOut: hooks.onFanOut } : {}),
  });
  return {
    store,
    events,
    presence,
    outbox,
    redis: { client, keys },
    kind: 'redis',
    close: async () => {
      await events.close();
      await store.close();
      client.disconnect();
      subscriber.disconnect();
    },
  };
}
