import type { EventBatch } from '../domain/events.js';

export interface RoomEventsListener {
  /** Called with each committed batch of the room, in commit order. Must not throw. */
  onBatch(batch: EventBatch): void;
  /** Delivery may have missed batches (the connection to the bus was lost and is back): check the log. */
  onResync?(): void;
}

/** Live fan-out of committed events to every instance. Publishing is part of RoomStore.commit. */
export interface RoomEvents {
  /**
   * Starts delivery of the room's batches to the listener. Resolves once delivery is confirmed, so every
   * batch committed after that reaches the listener; resolves to the function that ends it.
   */
  subscribe(transactionId: string, listener: RoomEventsListener): Promise<() => void>;
  close(): Promise<void>;
}
