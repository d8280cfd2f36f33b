/** The subscription's guarantees, on the memory store with a bus that loses messages on purpose. */
import { describe, expect, it } from 'vitest';
import { MemoryPresenceStore } from '../../src/adapters/memory-presence-store.js';
import { createMemoryAdapters } from '../../src/adapters/memory-room-store.js';
import type { EventBatch, RoomEvent } from '../../src/domain/events.js';
import { defaultLimits } from '../../src/domain/limits.js';
import { noPresence } from '../../src/domain/room.js';
import type { RoomEvents, RoomEventsListener } from '../../src/ports/room-events.js';
import { PresenceTracker } from '../../src/services/presence.js';
import { RoomService } from '../../src/services/room-service.js';
import { type RoomStreamDeps, type RoomStreamRequest, RoomStreamSource, type StreamFailure } from '../../src/services/room-stream.js';

const openRoomStream = (deps: RoomStreamDeps, request: RoomStreamRequest) => new RoomStreamSource(deps, request)[Symbol.asyncIterator]();

/** Delivers batches like the real bus, except those `drop` refuses; `resync()` plays a reconnect. */
class LossyEvents implements RoomEvents {
  private readonly listeners = new Set<RoomEventsListener>();
  constructor(
    private readonly inner: RoomEvents,
    private readonly drop: (batch: EventBatch) => boolean,
  ) {}
  async subscribe(transactionId: string, listener: RoomEventsListener) {
    this.listeners.add(listener);
    const stop = await this.inner.subscribe(transactionId, {
      onBatch: (batch) => {
        if (!this.drop(batch)) listener.onBatch(batch);
      },
    });
    return () => {
      this.listeners.delete(listener);
      stop();
    };
  }
  resync() {
    for (const listener of this.listeners) listener.onResync?.();
  }
  async close() {}
}

function setup(drop: (batch: EventBatch) => boolean) {
  const { store, events } = createMemoryAdapters({ ttlSeconds: 60, eventLogLength: 100, requestIdTtlSeconds: 60 });
  const lossy = new LossyEvents(events, drop);
  const presenceStore = new MemoryPresenceStore();
  const rooms = new RoomService({ store, presence: presenceStore, limits: defaultLimits });
  const errors: unknown[] = [];
  const presence = new PresenceTracker({ store: presenceStore, rooms, instanceId: 'i1', onError: (e) => errors.push(e) });
  const open = (afterVersion?: number) =>
    openRoomStream({ store, events: lossy, presence, onError: (e) => errors.push(e) }, {
      transactionId: 'tx',
      userId: 'watcher',
      ...(afterVersion !== undefined ? { afterVersion } : {}),
    });
  return { rooms, lossy, open, errors, memoryEvents: events };
}

async function take(stream: AsyncIterator<RoomEvent | StreamFailure>, count: number): Promise<Array<RoomEvent | StreamFailure>> {
  const out = [];
  for (let i = 0; i < count; i++) {
    const next = await Promise.race([
      stream.next(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no event ${i + 1} of ${count} within 2 s`)), 2000)),
    ]);
    if (next.done) throw new Error('stream ended');
    out.push(next.value);
  }
  return out;
}
const versions = (list: Array<RoomEvent | StreamFailure>) => list.map((e) => (e.type === 'StreamFailure' ? -1 : e.version));

describe('room stream', () => {
  it('fills a lost live message from the log', async () => {
    const { rooms, open, errors } = setup((batch) => batch.events[0]!.version === 3);
    await rooms.execute('tx', 'alice', { kind: 'join', userName: 'Alice', presence: noPresence });
    const stream = open(1);
    for (const value of ['a', 'b', 'c']) await rooms.execute('tx', 'alice', { kind: 'select', field: 'price', value });
    expect(versions(await take(stream, 3))).toEqual([2, 3, 4]);
    await stream.return?.();
    expect(errors).toEqual([]);
  });

  it('checks the log after a reconnect of the bus, even when no later message comes', async () => {
    let lose = false;
    const { rooms, lossy, open } = setup(() => lose);
    await rooms.execute('tx', 'alice', { kind: 'join', userName: 'Alice', presence: noPresence });
    const stream = open(1);
    await rooms.execute('tx', 'alice', { kind: 'select', field: 'price', value: 'a' });
    expect(versions(await take(stream, 1))).toEqual([2]);
    lose = true; // the connection is down: these never arrive
    await rooms.execute('tx', 'alice', { kind: 'select', field: 'price', value: 'b' });
    await rooms.execute('tx', 'alice', { kind: 'select', field: 'price', value: 'c' });
    lose = false;
    lossy.resync();
    const caught = await take(stream, 2);
    expect(versions(caught)).toEqual([3, 4]);
    expect(caught.map((e) => (e.type === 'FieldSelected' ? e.selection.value : null))).toEqual(['b', 'c']);
    await stream.return?.();
  });

  it('never sends a version twice when live batches overlap the replay', async () => {
    const { rooms, open } = setup(() => false);
    await rooms.execute('tx', 'alice', { kind: 'join', userName: 'Alice', presence: noPresence });
    const stream = open(0);
    const writes = Promise.all(['a', 'b', 'c', 'd', 'e'].map((value) => rooms.execute('tx', 'alice', { kind: 'select', field: 'f', value })));
    await writes;
    expect(versions(await take(stream, 6))).toEqual([1, 2, 3, 4, 5, 6]);
    const extra = await Promise.race([stream.next(), new Promise((resolve) => setTimeout(() => resolve('none'), 100))]);
    expect(extra).toBe('none');
    await stream.return?.();
  });

  it('releases its bus subscription when the consumer stops', async () => {
    const { rooms, open, memoryEvents } = setup(() => false);
    await rooms.execute('tx', 'alice', { kind: 'join', userName: 'Alice', presence: noPresence });
    const stream = open(0);
    expect(versions(await take(stream, 1))).toEqual([1]);
    expect(memoryEvents.listenedRooms()).toBe(1);
    await stream.return?.();
    expect(memoryEvents.listenedRooms()).toBe(0);
  });
});
