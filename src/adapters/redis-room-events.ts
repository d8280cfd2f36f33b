/**
 * Live fan-out across instances through graphql-redis-subscriptions on a dedicated subscriber connection.
 * One Redis channel subscription per room per instance, whatever the number of local subscribers
 * (RedisPubSub counts references); each message is parsed once per instance and handed to every local
 * listener. The batches are published by the commit script, not here.
 */
import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { Cluster, Redis } from 'ioredis';
import type { EventBatch } from '../domain/events.js';
import { StoreUnavailableError } from '../errors.js';
import type { RoomEvents, RoomEventsListener } from '../ports/room-events.js';
import type { RedisKeys } from './redis-keys.js';

export interface RedisEventsOptions {
  /** Used only for RedisPubSub's publish, which this service does not call. */
  publisher: Redis | Cluster;
  /** A connection of its own, in subscriber mode from the first subscription on. */
  subscriber: Redis | Cluster;
  keys: RedisKeys;
  /** Milliseconds to wait for Redis to confirm a subscription before failing with STORE_UNAVAILABLE. */
  subscribeTimeoutMs: number;
}

export class RedisRoomEvents implements RoomEvents {
  private readonly pubsub: RedisPubSub;
  private readonly listeners = new Set<RoomEventsListener>();
  /** Set when the subscriber connection closes, whether or not it had been ready when we started. */
  private lost = false;

  constructor(private readonly options: RedisEventsOptions) {
    // RedisPubSub sends UNSUBSCRIBE and drops the reply: on a closed connection that rejection would go
    // unhandled. The channel is re-subscribed or released with the connection anyway.
    const subscriber = options.subscriber as unknown as Record<'unsubscribe' | 'punsubscribe', (...args: unknown[]) => unknown>;
    for (const name of ['unsubscribe', 'punsubscribe'] as const) {
      const original = subscriber[name]!.bind(options.subscriber);
      subscriber[name] = (...args: unknown[]) => {
        const reply = original(...args);
        if (reply instanceof Promise) reply.catch(() => undefined);
        return reply;
      };
    }
    this.pubsub = new RedisPubSub({ publisher: options.publisher, subscriber: options.subscriber });
    // After a lost connection, batches published meanwhile never arrive: every listener checks its log.
    options.subscriber.on('close', () => {
      this.lost = true;
    });
    options.subscriber.on('ready', () => {
      if (!this.lost) return;
      this.lost = false;
      // ioredis re-subscribes on 'ready'; a PING answered after those SUBSCRIBEs means they are in place,
      // so anything committed from then on is delivered and anything before it is in the log.
      options.subscriber.ping().then(
        () => {
          for (const listener of this.listeners) listener.onResync?.();
        },
        () => undefined, // lost again: the next 'ready' resyncs
      );
    });
  }

  async subscribe(transactionId: string, listener: RoomEventsListener): Promise<() => void> {
    const subscription = this.pubsub.subscribe(this.options.keys.channel(transactionId), (batch: EventBatch) =>
      listener.onBatch(batch),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreUnavailableError('subscribe timed out')), this.options.subscribeTimeoutMs);
    });
    let id: number;
    try {
      id = await Promise.race([subscription, timeout]);
    } catch (error) {
      // A subscription confirmed after we gave up must still be released.
      subscription.then((late) => this.pubsub.unsubscribe(late), () => undefined);
      throw error instanceof StoreUnavailableError ? error : new StoreUnavailableError(error);
    } finally {
      clearTimeout(timer);
    }
    this.listeners.add(listener);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.listeners.delete(listener);
      this.pubsub.unsubscribe(id);
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
