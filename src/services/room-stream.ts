/**
 * One conflictRoomEvents subscription: every event after a version, then live events, each exactly
 * once and in version order. Live delivery is confirmed before the log is read, so nothing committed
 * in between is missed; versions already sent are dropped; a gap in live delivery is filled from the
 * log; a history that cannot be replayed becomes one RoomSnapshot.
 */
import { Repeater } from '@repeaterjs/repeater';
import type { EventBatch, RoomEvent } from '../domain/events.js';
import { type RoomState, roomView } from '../domain/room.js';
import { DomainError, StoreUnavailableError } from '../errors.js';
import type { RoomEvents } from '../ports/room-events.js';
import type { RoomStore } from '../ports/room-store.js';
import type { PresenceTracker } from './presence.js';

/** Ends a stream with an error the client can read, instead of tearing down its connection. */
export interface StreamFailure {
  type: 'StreamFailure';
  error: DomainError;
}

export interface RoomStreamDeps {
  store: RoomStore;
  events: RoomEvents;
  presence: PresenceTracker;
  onError(error: unknown, context: string): void;
}

export interface RoomStreamRequest {
  transactionId: string;
  userId: string;
  /** Unset: live events from now on. */
  afterVersion?: number;
  epoch?: string;
}

export function openRoomStream(deps: RoomStreamDeps, request: RoomStreamRequest): Repeater<RoomEvent | StreamFailure> {
  const { store, events, presence } = deps;
  const { transactionId, userId } = request;

  return new Repeater<RoomEvent | StreamFailure>(async (push, stop) => {
    let lastVersion = request.afterVersion ?? 0;
    // '' while unknown: a room never written has no epoch yet.
    let epoch = request.epoch ?? '';
    let work: Promise<void> = Promise.resolve();
    // Steps run one at a time, in order; none runs after the stream ended or failed.
    let ended = false;
    void stop.then(() => {
      ended = true;
    });
    const enqueue = (step: () => Promise<void>) => {
      work = work.then(() => (ended ? undefined : step())).catch(async (error: unknown) => {
        ended = true;
        if (error instanceof DomainError) await push({ type: 'StreamFailure', error });
        else deps.onError(error, 'room event stream');
        stop(error instanceof DomainError ? undefined : error);
      });
    };

    const send = async (list: readonly RoomEvent[]) => {
      for (const event of list) {
        if (event.version <= lastVersion) continue;
        lastVersion = event.version;
        await push(event);
      }
    };
    const sendSnapshot = async (room: RoomState) => {
      lastVersion = room.version;
      epoch = room.epoch;
      const view = roomView(room);
      await push({ type: 'RoomSnapshot', transactionId, version: view.version, at: new Date().toISOString(), userId: null, room: view });
    };
    const catchUp = async () => {
      const read = await store.readSince(transactionId, lastVersion, epoch || undefined);
      if (read.kind === 'snapshot') return sendSnapshot(read.room);
      if (read.epoch) epoch = read.epoch;
      await send(read.events);
    };
    // After a lost connection the command client may come back a moment after the subscriber: retry
    // for about ten seconds before the stream gives up (the client then resumes on its own).
    const catchUpPatiently = async () => {
      for (let attempt = 0, delay = 100; ; attempt++, delay = Math.min(delay * 2, 2000)) {
        try {
          return await catchUp();
        } catch (error) {
          if (!(error instanceof StoreUnavailableError) || attempt >= 7 || ended) throw error;
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
    };
    const onBatch = (batch: EventBatch) =>
      enqueue(async () => {
        const first = batch.events[0];
        if (!first) return;
        // Another epoch means the room started over; a jump means a lost message. The log settles both.
        if ((epoch && batch.epoch !== epoch) || first.version > lastVersion + 1) await catchUpPatiently();
        else if (!epoch) epoch = batch.epoch;
        if (batch.epoch === epoch) await send(batch.events);
      });

    // The first step waits for confirmed delivery, and every batch is queued behind it.
    let unsubscribe: (() => void) | undefined;
    const subscribed = events.subscribe(transactionId, { onBatch, onResync: () => enqueue(catchUpPatiently) });
    enqueue(async () => {
      unsubscribe = await subscribed;
      if (request.afterVersion !== undefined) return catchUp();
      const { room } = await store.load(transactionId);
      lastVersion = room.version;
      if (room.version > 0) epoch = room.epoch;
    });
    let acquired = false;
    enqueue(async () => {
      acquired = true;
      presence.acquire(transactionId, userId);
    });
    await stop;
    await subscribed.catch(() => undefined);
    unsubscribe?.();
    if (acquired) presence.release(transactionId, userId);
  });
}
