/**
 * Live fan-out across instances through graphql-redis-subscriptions on a dedicated subscriber connection.
 * One RedisPubSub subscription per room per instance, whatever the number of local subscribers; each
 * message is parsed once per instance and handed to every local listener in one loop. The batches are
 * published by the commit script, not here.
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

interface LocalRoom {
  listeners: Set<RoomEventsListener>;
  /** RedisPubSub's subscription id, once Redis confirmed the SUBSCRIBE. */
  confirmed: Promise<number>;
}

export class RedisRoomEvents implements RoomEvents {
  private readonly pubsub: RedisPubSub;
  /** Every confirmed listener, for resyncs. */
  private readonly listeners = new Set<RoomEventsListener>();
  private readonly rooms = new Map<string, LocalRoom>();
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
    let room = this.rooms.get(transactionId);
    if (!room) this.rooms.set(transactionId, (room = this.openRoom(transactionId)));
    room.listeners.add(listener);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      room.listeners.delete(listener);
      this.listeners.delete(listener);
      if (room.listeners.size > 0) return;
      // The last local listener of the room: release its channel.
      if (this.rooms.get(transactionId) === room) this.rooms.delete(transactionId);
      room.confirmed.then((id) => this.pubsub.unsubscribe(id), () => undefined);
    };
    try {
      await this.withTimeout(room.confirmed);
    } catch (error) {
      end();
      throw error instanceof StoreUnavailableError ? error : new StoreUnavailableError(error);
    }
    this.listeners.add(listener);
    return end;
  }

  /** One RedisPubSub subscription per room: each batch is handed to the room's local listeners in one loop. */
  private openRoom(transactionId: string): LocalRoom {
    const listeners = new Set<RoomEventsListener>();
    const confirmed = this.pubsub.subscribe(this.options.keys.channel(transactionId), (batch: EventBatch) => {
      for (const listener of listeners) listener.onBatch(batch);
    });
    confirmed.catch(() => {
      // A failed SUBSCRIBE: the next subscriber of the room starts over.
      if (this.rooms.get(transactionId)?.confirmed === confirmed) this.rooms.delete(transactionId);
    });
    return { listeners, confirmed };
  }

  private async withTimeout<T>(promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreUnavailableError('subscribe timed out')), this.options.subscribeTimeoutMs);
    });
    try {
      return await Promise.race([promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
