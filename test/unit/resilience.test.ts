/** What happens around a store that fails: retried presence, fail-fast queues, patient resync. */
import { describe, expect, it } from 'vitest';
import { MemoryPresenceStore } from '../../src/adapters/memory-presence-store.js';
import { createMemoryAdapters } from '../../src/adapters/memory-room-store.js';
import type { RoomEvent } from '../../src/domain/events.js';
import { defaultLimits } from '../../src/domain/limits.js';
import { noPresence } from '../../src/domain/room.js';
import { StoreUnavailableError } from '../../src/errors.js';
import type { RoomStore } from '../../src/ports/room-store.js';
import { PresenceTracker } from '../../src/services/presence.js';
import { RoomService } from '../../src/services/room-service.js';
import { type RoomStreamDeps, type RoomStreamRequest, RoomStreamSource } from '../../src/services/room-stream.js';

const openRoomStream = (deps: RoomStreamDeps, request: RoomStreamRequest) => new RoomStreamSource(deps, request)[Symbol.asyncIterator]();

/** A memory store whose chosen methods fail with STORE_UNAVAILABLE while `down` says so. */
function flakyStore(down: { commit?: number; readSince?: number; commitDelayMs?: number }) {
  const { store, events } = createMemoryAdapters({ ttlSeconds: 60, eventLogLength: 100, requestIdTtlSeconds: 60 });
  const calls = { commit: 0, readSince: 0 };
  const flaky: RoomStore = {
    load: (...args) => store.load(...args),
    loadIfChanged: (...args) => store.loadIfChanged(...args),
    readHistory: (...args) => store.readHistory(...args),
    ping: () => store.ping(),
    close: () => store.close(),
    async commit(commit) {
      calls.commit++;
      if (down.commitDelayMs) await new Promise((resolve) => setTimeout(resolve, down.commitDelayMs));
      if ((down.commit ?? 0) > 0) {
        down.commit!--;
        throw new StoreUnavailableError('down');
      }
      return store.commit(commit);
    },
    async readSince(...args) {
      calls.readSince++;
      if ((down.readSince ?? 0) > 0) {
        down.readSince!--;
        throw new StoreUnavailableError('down');
      }
      return store.readSince(...args);
    },
  };
  return { store: flaky, events, calls, memory: store };
}

describe('presence', () => {
  it('retries a presence write until the store takes it', async () => {
    const down = { commit: 0 };
    const { store } = flakyStore(down);
    const presenceStore = new MemoryPresenceStore();
    const rooms = new RoomService({ store, presence: presenceStore, limits: defaultLimits });
    await rooms.execute('tx', 'alice', { kind: 'join', userName: 'Alice', presence: noPresence });
    const errors: unknown[] = [];
    const presence = new PresenceTracker({ store: presenceStore, rooms, instanceId: 'i1', onError: (e) => errors.push(e), retryMs: 10 });
    down.commit = 2;
    presence.acquire('tx', 'alice');
    await presence.settled();
    expect(errors).toHaveLength(2);
    expect((await rooms.room('tx')).participants).toMatchObject([{ userId: 'alice', online: true }]);
  });

  it('lands on what is true now when the user came and went while the store was away', async () => {
    const down = { commit: 0 };
    const { store } = flakyStore(down);
    const presenceStore = new MemoryPresenceStore();
    const rooms = new RoomService({ store, presence: presenceStore, limits: defaultLimits });
    await rooms.execute('tx', 'alice', { kind: 'join', userName: 'Alice', presence: noPresence });
    const presence = new PresenceTracker({ store: presenceStore, rooms, instanceId: 'i1', onError: () => undefined, retryMs: 10 });
    presence.acquire('tx', 'alice');
    await presence.settled();
    down.commit = 3;
    presence.release('tx', 'alice'); // fails, retried...
    presence.acquire('tx', 'alice'); // ...and back before it landed
    presence.release('tx', 'alice');
    await presence.settled();
    expect(down.commit).toBe(0);
    expect((await rooms.room('tx')).participants).toMatchObject([{ userId: 'alice', online: false }]);
    expect(await presenceStore.read('tx', ['alice'])).toMatchObject([{ online: false }]);
  });
});

describe('room commands while the store is away', () => {
  it('commands queued behind a failed one fail at once instead of adding their own timeouts', async () => {
    const down = { commit: 3, commitDelayMs: 300 };
    const { store, calls } = flakyStore(down);
    const rooms = new RoomService({ store, presence: new MemoryPresenceStore(), limits: defaultLimits });
    const started = Date.now();
    const results = await Promise.allSettled([0, 1, 2].map((i) => rooms.execute('tx', `u${i}`, { kind: 'join', userName: `U${i}`, presence: noPresence })));
    const elapsed = Date.now() - started;
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    for (const r of results) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailableError);
    expect(calls.commit).toBe(1);
    expect(elapsed).toBeLessThan(600);
    // And the room works again at once when the store does.
    down.commit = 0;
    down.commitDelayMs = 0;
    expect((await rooms.execute('tx', 'u0', { kind: 'join', userName: 'U0', presence: noPresence })).version).toBe(1);
  });
});

describe('a stream after a lost connection', () => {
  it('keeps trying to read the log instead of ending', async () => {
    const down = { readSince: 0 };
    const { store, events, memory } = flakyStore(down);
    const rooms = new RoomService({ store: memory, presence: new MemoryPresenceStore(), limits: defaultLimits });
    await rooms.execute('tx', 'alice', { kind: 'join', userName: 'Alice', presence: noPresence });
    let resync: (() => void) | undefined;
    const presence = new PresenceTracker({ store: new MemoryPresenceStore(), rooms, instanceId: 'i1', onError: () => undefined });
    const stream = openRoomStream(
      {
        store,
        events: {
          subscribe: async (tx, listener) => {
            resync = listener.onResync;
            return events.subscribe(tx, { onBatch: () => undefined }); // live delivery is lost
          },
          close: async () => undefined,
        },
        presence,
        onError: () => undefined,
      },
      { transactionId: 'tx', userId: 'watcher', afterVersion: 1 },
    );
    const first = stream.next(); // starts the stream: it subscribes at once
    await rooms.execute('tx', 'alice', { kind: 'select', field: 'price', value: '1' });
    down.readSince = 2; // the command connection is not back yet
    resync!();
    const event = (await first).value as RoomEvent;
    expect(event).toMatchObject({ type: 'FieldSelected', version: 2 });
    await stream.return?.();
  });
});
