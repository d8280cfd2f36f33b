/**
 * Live fan-out across instances on a dedicated ioredis subscriber connection: one SUBSCRIBE per room
 * per instance, whatever the number of local subscribers; each message is parsed once per instance
 * and handed to every local listener in one loop. The batches are published by the commit script.
 * On a Redis Cluster the same with sharded pub/sub (SSUBSCRIBE, 'smessage'): the room's channel lives
 * on the shard of the room's slot, where the commit script SPUBLISHes it, and no other shard hears it.
 *
 * ioredis itself is the pub/sub client here (its subscribe resolves once Redis confirmed, it
 * re-subscribes after a reconnect). graphql-redis-subscriptions added nothing this needs, sent an
 * UNSUBSCRIBE and a PUNSUBSCRIBE per channel without handling their rejections, and cannot do
 * sharded pub/sub.
 */
import type { Cluster, Redis } from 'ioredis';
import type { EventBatch } from '../domain/events.js';
import { StoreUnavailableError } from '../errors.js';
import type { RoomEvents, RoomEventsListener } from '../ports/room-events.js';
import type { RedisKeys } from './redis-keys.js';

export interface RedisEventsOptions {
  /** A connection of its own, in subscriber mode from the first subscription on. */
  subscriber: Redis | Cluster;
  keys: RedisKeys;
  /** Milliseconds to wait for Redis to confirm a subscription before failing with STORE_UNAVAILABLE. */
  subscribeTimeoutMs: number;
  /** Sharded pub/sub (a Cluster built with `shardedSubscribers: true`); default false: SUBSCRIBE. */
  sharded?: boolean;
  /** Called with a message that is not a batch (never published by this service). */
  onError?(error: unknown): void;
  /** Called after a batch was handed to every local listener of its room (metrics). */
  onFanOut?(batch: EventBatch, listeners: number): void;
}

interface LocalRoom {
  channel: string;
  listeners: Set<RoomEventsListener>;
  /** Resolves once Redis confirmed the SUBSCRIBE. */
  confirmed: Promise<void>;
  ready: boolean;
}

export class RedisRoomEvents implements RoomEvents {
  /** Every confirmed listener, for resyncs. */
  private readonly listeners = new Set<RoomEventsListener>();
  /** By channel. A room stays here while its SUBSCRIBE is pending, even with no listener left. */
  private readonly rooms = new Map<string, LocalRoom>();
  /** Set when the subscriber connection closes, whether or not it had been ready when we started. */
  private lost = false;

  constructor(private readonly options: RedisEventsOptions) {
    const { subscriber } = options;
    subscriber.on(options.sharded ? 'smessage' : 'message', (channel: string, message: string) => {
      const room = this.rooms.get(channel);
      if (!room || room.listeners.size === 0) return;
      let batch: EventBatch;
      try {
        batch = JSON.parse(message) as EventBatch;
      } catch (error) {
        return options.onError?.(error);
      }
      for (const listener of room.listeners) listener.onBatch(batch);
      options.onFanOut?.(batch, room.listeners.size);
    });
    if (options.sharded) {
      // ioredis's sharded subscriber group emits this once it has sent the SSUBSCRIBEs again on the
      // shards' current masters (after a node was lost or a failover moved slots). Batches published
      // in between never arrive: every listener checks its log. A batch committed between this and
      // the SSUBSCRIBE's arrival shows as a version jump at the next batch, which reads the log too.
      subscriber.on('subscribersReady', () => {
        for (const listener of this.listeners) listener.onResync?.();
      });
      return;
    }
    // After a lost connection, batches published meanwhile never arrive: every listener checks its log.
    subscriber.on('close', () => {
      this.lost = true;
    });
    subscriber.on('ready', () => {
      if (!this.lost) return;
      this.lost = false;
      // ioredis re-subscribes on 'ready'; a PING answered after those SUBSCRIBEs means they are in place,
      // so anything committed from then on is delivered and anything before it is in the log.
      subscriber.ping().then(
        () => {
          for (const listener of this.listeners) listener.onResync?.();
        },
        () => undefined, // lost again: the next 'ready' resyncs
      );
    });
  }

  async subscribe(transactionId: string, listener: RoomEventsListener): Promise<() => void> {
    const channel = this.options.keys.channel(transactionId);
    let room = this.rooms.get(channel);
    if (!room) this.rooms.set(channel, (room = this.openRoom(channel)));
    room.listeners.add(listener);
    const end = this.ender(room, listener);
    try {
      await this.withTimeout(room.confirmed);
    } catch (error) {
      end();
      throw error instanceof StoreUnavailableError ? error : new StoreUnavailableError(error);
    }
    this.listeners.add(listener);
    return end;
  }

  /** Ends one listener's subscription, once: a small closure over what it needs, made apart from subscribe's locals. */
  private ender(room: LocalRoom, listener: RoomEventsListener): () => void {
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      room.listeners.delete(listener);
      this.listeners.delete(listener);
      this.releaseIfUnused(room);
    };
  }

  private openRoom(channel: string): LocalRoom {
    const room: LocalRoom = { channel, listeners: new Set(), ready: false, confirmed: Promise.resolve() };
    const { subscriber, sharded } = this.options;
    room.confirmed = (sharded ? subscriber.ssubscribe(channel) : subscriber.subscribe(channel)).then(() => {
      room.ready = true;
      // Everyone left while the SUBSCRIBE was on its way.
      this.releaseIfUnused(room);
    });
    room.confirmed.catch(() => {
      // A failed SUBSCRIBE: the next subscriber of the room starts over.
      if (this.rooms.get(channel) === room) this.rooms.delete(channel);
    });
    return room;
  }

  /**
   * The last local listener left: release the channel. The UNSUBSCRIBE goes out at once, so a
   * SUBSCRIBE for the same channel issued later is ordered after it on the connection.
   */
  private releaseIfUnused(room: LocalRoom): void {
    if (room.listeners.size > 0 || !room.ready || this.rooms.get(room.channel) !== room) return;
    this.rooms.delete(room.channel);
    // On a lost connection the channel goes with it; ioredis only re-subscribes what is still wanted.
    const { subscriber, sharded } = this.options;
    (sharded ? subscriber.sunsubscribe(room.channel) : subscriber.unsubscribe(room.channel)).catch(() => undefined);
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
