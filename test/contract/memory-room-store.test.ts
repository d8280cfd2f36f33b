import { describe, expect, it } from 'vitest';
import { createMemoryAdapters } from '../../src/adapters/memory-room-store.js';
import { emptyRoom } from '../../src/domain/room.js';
import { BatchCollector, RoomDriver, contractStoreOptions, roomStoreContract } from './room-store.contract.js';

roomStoreContract('memory', async () => {
  const { store, events } = createMemoryAdapters({ ...contractStoreOptions });
  return {
    store,
    events,
    cleanup: async () => {
      await store.close();
      await events.close();
    },
  };
});

describe('memory store only', () => {
  /** A store on a clock the test moves, with epochs e1, e2, ... in the order they are made. */
  function clocked(options: { ttlSeconds: number; requestIdTtlSeconds: number; eventLogLength?: number }) {
    const clock = { now: 1_700_000_000_000 };
    let epochs = 0;
    const adapters = createMemoryAdapters({
      ttlSeconds: options.ttlSeconds,
      requestIdTtlSeconds: options.requestIdTtlSeconds,
      eventLogLength: options.eventLogLength ?? 1000,
      clock: () => clock.now,
      newEpoch: () => `e${++epochs}`,
    });
    return { ...adapters, clock };
  }

  it('brings a room not written for ttlSeconds back as a new empty room with a new epoch', async () => {
    const { store, clock } = clocked({ ttlSeconds: 60, requestIdTtlSeconds: 3600 });
    const room = await RoomDriver.open(store, 'tx-exp');
    expect(room.room.epoch).toBe('e1');
    await room.join('u1');
    await room.select('u1', 'price', '1');
    const written = clock.now;

    clock.now = written + 59_999;
    expect(await store.load('tx-exp')).toEqual({ room: room.room, revision: 2, requestDone: false });
    expect(await store.readSince('tx-exp', 1, 'e1')).toEqual({ kind: 'events', events: room.events.slice(1), version: 2, epoch: 'e1' });

    clock.now = written + 60_000;
    expect(await store.load('tx-exp')).toEqual({ room: emptyRoom('tx-exp', 'e2'), revision: 0, requestDone: false });
    // The old history is gone: a resume in it gets a snapshot of the new empty room.
    expect(await store.readSince('tx-exp', 2, 'e1')).toEqual({ kind: 'snapshot', room: emptyRoom('tx-exp', 'e3') });
    expect(await store.readSince('tx-exp', 0)).toEqual({ kind: 'events', events: [], version: 0, epoch: '' });

    // A writer still on the old revision conflicts; the room starts over from revision 0 and version 0.
    const stale = room.decide('u1', { kind: 'select', field: 'price', value: '2' });
    const conflict = await store.commit({ transactionId: 'tx-exp', baseRevision: 2, room: stale.room, events: stale.events });
    expect(conflict).toEqual({ status: 'conflict', current: { room: emptyRoom('tx-exp', 'e4'), revision: 0, requestDone: false } });

    const again = await RoomDriver.open(store, 'tx-exp');
    expect(again.room).toEqual(emptyRoom('tx-exp', 'e5'));
    const joined = await again.join('u2');
    expect(joined.map((e) => [e.type, e.version])).toEqual([['ParticipantJoined', 1]]);
    expect(await store.load('tx-exp')).toEqual({ room: again.room, revision: 1, requestDone: false });
    expect(await store.readSince('tx-exp', 0, 'e5')).toEqual({ kind: 'events', events: joined, version: 1, epoch: 'e5' });
  });

  it('counts the ttl from the last write', async () => {
    const { store, clock } = clocked({ ttlSeconds: 60, requestIdTtlSeconds: 3600 });
    const room = await RoomDriver.open(store, 'tx-refresh');
    const start = clock.now;
    await room.join('u1');
    clock.now = start + 50_000;
    await room.select('u1', 'price', '1');
    clock.now = start + 109_999;
    expect(await store.load('tx-refresh')).toEqual({ room: room.room, revision: 2, requestDone: false });
    clock.now = start + 110_000;
    expect(await store.load('tx-refresh')).toEqual({ room: emptyRoom('tx-refresh', 'e2'), revision: 0, requestDone: false });
  });

  it('forgets a request after requestIdTtlSeconds', async () => {
    const { store, clock } = clocked({ ttlSeconds: 3600, requestIdTtlSeconds: 30 });
    const room = await RoomDriver.open(store, 'tx-req-exp');
    await room.join('u1');
    const request = { userId: 'u1', requestId: 'r1' };
    const done = clock.now;
    await room.select('u1', 'price', '1', request);

    clock.now = done + 29_999;
    expect(await store.load('tx-req-exp', request)).toEqual({ room: room.room, revision: 2, requestDone: true });
    const retry = room.decide('u1', { kind: 'select', field: 'price', value: '2' });
    expect(await store.commit({ transactionId: 'tx-req-exp', baseRevision: 2, room: retry.room, events: retry.events, request })).toEqual({
      status: 'duplicate',
      current: { room: room.room, revision: 2, requestDone: true },
    });

    clock.now = done + 30_000;
    expect(await store.load('tx-req-exp', request)).toEqual({ room: room.room, revision: 2, requestDone: false });
    await room.select('u1', 'price', '2', request);
    expect(await store.load('tx-req-exp', request)).toEqual({ room: room.room, revision: 3, requestDone: true });
  });

  it('keeps exactly eventLogLength events', async () => {
    const { store } = clocked({ ttlSeconds: 3600, requestIdTtlSeconds: 3600, eventLogLength: 5 });
    const room = await RoomDriver.open(store, 'tx-trim-exact');
    await room.join('u1');
    for (let i = 2; i <= 20; i++) await room.select('u1', 'price', String(i));
    const epoch = room.room.epoch;
    expect(await store.readSince('tx-trim-exact', 14, epoch)).toEqual({ kind: 'snapshot', room: room.room });
    expect(await store.readSince('tx-trim-exact', 15, epoch)).toEqual({ kind: 'events', events: room.events.slice(15), version: 20, epoch });
    expect(room.events.slice(15).map((e) => e.version)).toEqual([16, 17, 18, 19, 20]);
  });

  it('releases a room with no listener left', async () => {
    const { events } = clocked({ ttlSeconds: 60, requestIdTtlSeconds: 60 });
    const one = await events.subscribe('tx-release', new BatchCollector());
    const two = await events.subscribe('tx-release', new BatchCollector());
    expect(events.listenedRooms()).toBe(1);
    one();
    expect(events.listenedRooms()).toBe(1);
    two();
    expect(events.listenedRooms()).toBe(0);
  });
});
