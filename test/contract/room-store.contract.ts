/**
 * The RoomStore + RoomEvents contract (src/ports/room-store.ts, src/ports/room-events.ts and
 * SEMANTICS.md "Versions and the log"), run against any adapter. Rooms and events come from the real
 * rules (`decide`), so every commit is one the service could make.
 *
 * The adapters must be built with `contractStoreOptions` (a log of 5 events, so the trimmed-log cases
 * hold for the exact in-memory trim and for Redis' approximate `MAXLEN ~`).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventBatch, RoomEvent } from '../../src/domain/events.js';
import { defaultLimits } from '../../src/domain/limits.js';
import { emptyRoom, noPresence, type RoomState } from '../../src/domain/room.js';
import { type DecisionContext, type RoomCommand, decide } from '../../src/domain/rules.js';
import type { RoomEvents, RoomEventsListener } from '../../src/ports/room-events.js';
import type { CommitResult, RequestKey, RoomStore } from '../../src/ports/room-store.js';

/** What every adapter under this contract is built with. */
export const contractStoreOptions = {
  ttlSeconds: 3600,
  eventLogLength: 5,
  /** The history keeps more than a resume reaches: conflictRoomHistory reads it. */
  historyMaxEvents: 1000,
  requestIdTtlSeconds: 600,
} as const;

export interface ContractAdapters {
  store: RoomStore;
  events: RoomEvents;
  cleanup(): Promise<void>;
}

export const NOW = '2024-05-01T12:00:00.000Z';

export function ctx(userId: string): DecisionContext {
  return { userId, now: NOW, limits: defaultLimits };
}

/** The presence command for one user's mark (a newer seq that does not flip makes no event). */
export const presence = (userId: string, seq: number, online = true): RoomCommand => ({ kind: 'presence', marks: [{ userId, online, seq }] });

/** A listener that keeps every batch and lets a test wait for the n-th one (failing after a timeout). */
export class BatchCollector implements RoomEventsListener {
  readonly batches: EventBatch[] = [];
  /** Set by a test that expects resyncs. */
  onResync?: () => void;
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  onBatch(batch: EventBatch): void {
    this.batches.push(batch);
    this.waiters = this.waiters.filter((waiter) => {
      if (this.batches.length < waiter.count) return true;
      waiter.resolve();
      return false;
    });
  }

  /** Resolves with the batches once at least `count` arrived; rejects after timeoutMs. */
  async until(count: number, timeoutMs = 5000): Promise<EventBatch[]> {
    if (this.batches.length >= count) return this.batches;
    let timer: NodeJS.Timeout | undefined;
    let waiter: { count: number; resolve: () => void } | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        waiter = { count, resolve };
        this.waiters.push(waiter);
        timer = setTimeout(
          () => reject(new Error(`expected ${count} batch(es) within ${timeoutMs} ms, got ${this.batches.length}: ${JSON.stringify(this.batches)}`)),
          timeoutMs,
        );
      });
    } finally {
      clearTimeout(timer);
      this.waiters = this.waiters.filter((w) => w !== waiter);
    }
    return this.batches;
  }
}

/**
 * One room as the service sees it: the last room and revision it committed, and every event so far.
 * `apply` decides a command with the real rules and commits it on the revision it was computed from.
 */
export class RoomDriver {
  room: RoomState;
  revision = 0;
  readonly events: RoomEvent[] = [];

  constructor(
    readonly store: RoomStore,
    readonly transactionId: string,
    epoch: string,
  ) {
    this.room = emptyRoom(transactionId, epoch);
  }

  static async open(store: RoomStore, transactionId: string): Promise<RoomDriver> {
    const loaded = await store.load(transactionId);
    expect(loaded.revision).toBe(0);
    return new RoomDriver(store, transactionId, loaded.room.epoch);
  }

  /** Decides without committing. */
  decide(userId: string, command: RoomCommand) {
    return decide(this.room, command, ctx(userId));
  }

  /** Decides and commits; asserts the commit went through and returns the change's events. */
  async apply(userId: string, command: RoomCommand, options: { request?: RequestKey } = {}): Promise<RoomEvent[]> {
    const decision = this.decide(userId, command);
    expect(decision.changed).toBe(true);
    const result = await this.store.commit({
      transactionId: this.transactionId,
      baseRevision: this.revision,
      room: decision.room,
      events: decision.events,
      ...(options.request ? { request: options.request } : {}),
    });
    expect(result).toEqual<CommitResult>({ status: 'committed', revision: this.revision + 1 });
    this.room = decision.room;
    this.revision += 1;
    this.events.push(...decision.events);
    return decision.events;
  }

  join(userId: string, userName = `name-${userId}`) {
    return this.apply(userId, { kind: 'join', userName, presence: noPresence });
  }

  select(userId: string, field: string, value: string, request?: RequestKey) {
    return this.apply(userId, { kind: 'select', field, value }, request ? { request } : {});
  }
}

export function roomStoreContract(name: string, makeAdapters: () => Promise<ContractAdapters>): void {
  describe(`RoomStore contract: ${name}`, () => {
    let adapters: ContractAdapters;
    let store: RoomStore;
    let events: RoomEvents;
    const unsubscribes: Array<() => void> = [];

    beforeEach(async () => {
      adapters = await makeAdapters();
      store = adapters.store;
      events = adapters.events;
    });

    afterEach(async () => {
      for (const unsubscribe of unsubscribes.splice(0)) unsubscribe();
      await adapters.cleanup();
    });

    async function subscribe(transactionId: string, listener: RoomEventsListener): Promise<() => void> {
      const unsubscribe = await events.subscribe(transactionId, listener);
      unsubscribes.push(unsubscribe);
      return unsubscribe;
    }

    describe('ping', () => {
      it('resolves while the store answers', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });
    });

    describe('load', () => {
      it('returns an untouched room empty, OPEN, at version 0 and revision 0, with an epoch', async () => {
        const loaded = await store.load('tx-untouched');
        expect(loaded.room.epoch).toEqual(expect.any(String));
        expect(loaded.room.epoch.length).toBeGreaterThan(0);
        expect(loaded).toEqual({
          room: {
            transactionId: 'tx-untouched',
            epoch: loaded.room.epoch,
            version: 0,
            status: 'OPEN',
            resolvedAt: null,
            selections: [],
            participants: [],
          },
          revision: 0,
          requestDone: false,
        });
        const asked = await store.load('tx-untouched', { userId: 'u1', requestId: 'r1' });
        expect(asked.revision).toBe(0);
        expect(asked.requestDone).toBe(false);
        expect(asked.room).toEqual(emptyRoom('tx-untouched', asked.room.epoch));
      });

      it('returns after a commit the committed room at revision 1', async () => {
        const room = await RoomDriver.open(store, 'tx-1');
        await room.join('u1', 'Ann');
        expect(room.room.version).toBe(1);
        expect(room.room.participants).toEqual([
          { userId: 'u1', name: 'Ann', isReady: false, joinedAt: NOW, online: false, presenceSeq: 0 },
        ]);
        expect(await store.load('tx-1')).toEqual({ room: room.room, revision: 1, requestDone: false });

        await room.join('u2', 'Bob');
        await room.select('u1', 'price', '45000');
        expect(await store.load('tx-1')).toEqual({ room: room.room, revision: 3, requestDone: false });
        expect(room.room.version).toBe(3);
        expect(room.room.selections.map((s) => [s.field, s.value, s.userId, s.version])).toEqual([['price', '45000', 'u1', 3]]);
      });

      it('keeps rooms apart', async () => {
        const a = await RoomDriver.open(store, 'tx-a');
        const b = await RoomDriver.open(store, 'tx-b');
        await a.join('u1');
        await a.select('u1', 'price', '1');
        await b.join('u2');
        expect(await store.load('tx-a')).toEqual({ room: a.room, revision: 2, requestDone: false });
        expect(await store.load('tx-b')).toEqual({ room: b.room, revision: 1, requestDone: false });
        expect(a.room.epoch).not.toBe(b.room.epoch);
      });
    });

    describe('loadIfChanged', () => {
      it('answers null while the room is at the revision and epoch the caller has, else the room', async () => {
        const room = await RoomDriver.open(store, 'tx-cond');
        await room.join('u1', 'Ann');
        expect(await store.loadIfChanged('tx-cond', 1, room.room.epoch)).toBeNull();
        await room.select('u1', 'price', '1');
        expect(await store.loadIfChanged('tx-cond', 1, room.room.epoch)).toEqual({ room: room.room, revision: 2, requestDone: false });
        // The same revision in another history is another room.
        expect(await store.loadIfChanged('tx-cond', 2, 'another-epoch')).toEqual({ room: room.room, revision: 2, requestDone: false });
        const untouched = await store.loadIfChanged('tx-cond-none', 1, 'e');
        expect(untouched).toMatchObject({ revision: 0, room: { version: 0, selections: [] } });
      });
    });

    describe('compare-and-set', () => {
      it('answers a commit on a stale revision with conflict and the current room, and writes nothing', async () => {
        const room = await RoomDriver.open(store, 'tx-cas');
        await room.join('u1');
        await room.join('u2');
        const stale = await store.load('tx-cas');
        expect(stale.revision).toBe(2);

        // Two writers decide on the same revision; the first wins.
        const first = decide(stale.room, { kind: 'select', field: 'price', value: '100' }, ctx('u1'));
        const second = decide(stale.room, { kind: 'select', field: 'price', value: '200' }, ctx('u2'));
        expect(await store.commit({ transactionId: 'tx-cas', baseRevision: 2, room: first.room, events: first.events })).toEqual({
          status: 'committed',
          revision: 3,
        });
        const logBefore = await store.readSince('tx-cas', 0);
        expect(logBefore).toEqual({ kind: 'events', events: [...room.events, ...first.events], version: 3, epoch: room.room.epoch });

        const conflict = await store.commit({ transactionId: 'tx-cas', baseRevision: 2, room: second.room, events: second.events });
        expect(conflict).toEqual({ status: 'conflict', current: { room: first.room, revision: 3, requestDone: false } });

        expect(await store.load('tx-cas')).toEqual({ room: first.room, revision: 3, requestDone: false });
        expect(await store.readSince('tx-cas', 0)).toEqual(logBefore);
        expect(first.room.selections[0]?.value).toBe('100');
      });

      it('answers a commit above the current revision with conflict', async () => {
        const room = await RoomDriver.open(store, 'tx-ahead');
        await room.join('u1');
        const next = room.decide('u1', { kind: 'select', field: 'price', value: '1' });
        const result = await store.commit({ transactionId: 'tx-ahead', baseRevision: 5, room: next.room, events: next.events });
        expect(result).toEqual({ status: 'conflict', current: { room: room.room, revision: 1, requestDone: false } });
        expect(await store.load('tx-ahead')).toEqual({ room: room.room, revision: 1, requestDone: false });
      });

      it('answers a commit on revision > 0 to a room never written with conflict and an empty room', async () => {
        const loaded = await store.load('tx-never');
        const joined = decide(loaded.room, { kind: 'join', userName: 'Ann', presence: noPresence }, ctx('u1'));
        const result = await store.commit({ transactionId: 'tx-never', baseRevision: 1, room: joined.room, events: joined.events });
        expect(result.status).toBe('conflict');
        if (result.status !== 'conflict') throw new Error('unreachable');
        expect(result.current.revision).toBe(0);
        expect(result.current.requestDone).toBe(false);
        expect(result.current.room).toEqual(emptyRoom('tx-never', result.current.room.epoch));
        expect(result.current.room.epoch.length).toBeGreaterThan(0);
        expect(await store.readSince('tx-never', 0)).toEqual({ kind: 'events', events: [], version: 0, epoch: '' });
      });
    });

    describe('requestId', () => {
      it('answers a second commit with the same request (same user, same room) with duplicate and writes nothing', async () => {
        const room = await RoomDriver.open(store, 'tx-req');
        await room.join('u1');
        await room.join('u2');
        const request = { userId: 'u1', requestId: 'req-1' };
        await room.select('u1', 'price', '100', request);
        await room.select('u2', 'price', '200');
        expect(room.revision).toBe(4);

        // The retried old pick, decided on the current room, must not overwrite the newer one.
        const retry = room.decide('u1', { kind: 'select', field: 'price', value: '100' });
        expect(retry.changed).toBe(true);
        const result = await store.commit({ transactionId: 'tx-req', baseRevision: 4, room: retry.room, events: retry.events, request });
        expect(result).toEqual({ status: 'duplicate', current: { room: room.room, revision: 4, requestDone: true } });

        expect(await store.load('tx-req')).toEqual({ room: room.room, revision: 4, requestDone: false });
        expect(await store.load('tx-req', request)).toEqual({ room: room.room, revision: 4, requestDone: true });
        expect(await store.readSince('tx-req', 0)).toEqual({ kind: 'events', events: room.events, version: 4, epoch: room.room.epoch });
      });

      it('answers duplicate even when the retry carries a stale revision', async () => {
        const room = await RoomDriver.open(store, 'tx-req-stale');
        await room.join('u1');
        const request = { userId: 'u1', requestId: 'req-1' };
        const before = room.room;
        await room.select('u1', 'price', '100', request);
        const retry = decide(before, { kind: 'select', field: 'price', value: '100' }, ctx('u1'));
        const result = await store.commit({ transactionId: 'tx-req-stale', baseRevision: 1, room: retry.room, events: retry.events, request });
        expect(result).toEqual({ status: 'duplicate', current: { room: room.room, revision: 2, requestDone: true } });
      });

      it('treats the same requestId from another user as another request', async () => {
        const room = await RoomDriver.open(store, 'tx-req-users');
        await room.join('u1');
        await room.join('u2');
        await room.select('u1', 'price', '100', { userId: 'u1', requestId: 'same' });
        expect(await store.load('tx-req-users', { userId: 'u2', requestId: 'same' })).toEqual({
          room: room.room,
          revision: 3,
          requestDone: false,
        });
        await room.select('u2', 'price', '200', { userId: 'u2', requestId: 'same' });
        expect(await store.load('tx-req-users', { userId: 'u2', requestId: 'same' })).toEqual({
          room: room.room,
          revision: 4,
          requestDone: true,
        });
        expect(room.room.selections.map((s) => [s.field, s.value, s.userId])).toEqual([['price', '200', 'u2']]);
      });

      it('treats the same request in another room as another request', async () => {
        const a = await RoomDriver.open(store, 'tx-req-a');
        const b = await RoomDriver.open(store, 'tx-req-b');
        const request = { userId: 'u1', requestId: 'same' };
        await a.join('u1');
        await b.join('u1');
        await a.select('u1', 'price', '1', request);
        expect((await store.load('tx-req-b', request)).requestDone).toBe(false);
        await b.select('u1', 'price', '2', request);
        expect((await store.load('tx-req-b', request)).requestDone).toBe(true);
      });

      it('reports requestDone on load only for a request that succeeded', async () => {
        const room = await RoomDriver.open(store, 'tx-req-load');
        await room.join('u1');
        const request = { userId: 'u1', requestId: 'r-42' };
        expect(await store.load('tx-req-load', request)).toEqual({ room: room.room, revision: 1, requestDone: false });

        // A commit that fails (conflict) does not remember its request.
        const stale = decide(emptyRoom('tx-req-load', room.room.epoch), { kind: 'join', userName: 'X', presence: noPresence }, ctx('u9'));
        const conflict = await store.commit({ transactionId: 'tx-req-load', baseRevision: 0, room: stale.room, events: stale.events, request });
        expect(conflict).toEqual({ status: 'conflict', current: { room: room.room, revision: 1, requestDone: false } });
        expect(await store.load('tx-req-load', request)).toEqual({ room: room.room, revision: 1, requestDone: false });

        await room.select('u1', 'price', '1', request);
        expect(await store.load('tx-req-load', request)).toEqual({ room: room.room, revision: 2, requestDone: true });
        expect(await store.load('tx-req-load', { userId: 'u1', requestId: 'r-43' })).toEqual({ room: room.room, revision: 2, requestDone: false });
      });

      it('records a request-only commit (room: null) without changing the room or its revision', async () => {
        const room = await RoomDriver.open(store, 'tx-req-only');
        await room.join('u1');
        await room.select('u1', 'price', '100');
        const listener = new BatchCollector();
        await subscribe('tx-req-only', listener);

        // Choosing the value the field already holds changes nothing; the request is still remembered.
        const request = { userId: 'u1', requestId: 'noop-1' };
        const noop = room.decide('u1', { kind: 'select', field: 'price', value: '100' });
        expect(noop).toEqual({ room: room.room, events: [], changed: false });
        expect(await store.commit({ transactionId: 'tx-req-only', baseRevision: 2, room: null, events: [], request })).toEqual({
          status: 'committed',
          revision: 2,
        });
        expect(await store.load('tx-req-only', request)).toEqual({ room: room.room, revision: 2, requestDone: true });
        expect(await store.readSince('tx-req-only', 0)).toEqual({ kind: 'events', events: room.events, version: 2, epoch: room.room.epoch });

        // The retry is a duplicate; the next real change commits on the unchanged revision.
        expect(await store.commit({ transactionId: 'tx-req-only', baseRevision: 2, room: null, events: [], request })).toEqual({
          status: 'duplicate',
          current: { room: room.room, revision: 2, requestDone: true },
        });
        const next = await room.select('u1', 'price', '200');
        // Nothing was published for the request-only commit: the first batch is the next change's.
        expect(await listener.until(1)).toEqual([{ epoch: room.room.epoch, events: next }]);
      });

      it('answers a request-only commit on a stale revision with conflict and remembers nothing', async () => {
        const room = await RoomDriver.open(store, 'tx-req-only-stale');
        await room.join('u1');
        const request = { userId: 'u1', requestId: 'noop-2' };
        expect(await store.commit({ transactionId: 'tx-req-only-stale', baseRevision: 0, room: null, events: [], request })).toEqual({
          status: 'conflict',
          current: { room: room.room, revision: 1, requestDone: false },
        });
        expect(await store.load('tx-req-only-stale', request)).toEqual({ room: room.room, revision: 1, requestDone: false });
      });
    });

    describe('readSince', () => {
      async function fourEvents(transactionId: string): Promise<RoomDriver> {
        const room = await RoomDriver.open(store, transactionId);
        await room.join('u1', 'Ann');
        await room.join('u2', 'Bob');
        await room.select('u1', 'productType', 'iPhone 13');
        await room.select('u2', 'condition', 'Like New');
        expect(room.events.map((e) => [e.type, e.version])).toEqual([
          ['ParticipantJoined', 1],
          ['ParticipantJoined', 2],
          ['FieldSelected', 3],
          ['FieldSelected', 4],
        ]);
        return room;
      }

      it('of a room never written: no events at 0, a snapshot of an empty room above 0', async () => {
        expect(await store.readSince('tx-none', 0)).toEqual({ kind: 'events', events: [], version: 0, epoch: '' });
        expect(await store.readSince('tx-none', 0, 'some-epoch')).toEqual({ kind: 'events', events: [], version: 0, epoch: '' });
        const read = await store.readSince('tx-none', 3, 'some-epoch');
        expect(read.kind).toBe('snapshot');
        if (read.kind !== 'snapshot') throw new Error('unreachable');
        expect(read.room).toEqual(emptyRoom('tx-none', read.room.epoch));
        expect(read.room.epoch.length).toBeGreaterThan(0);
        expect(read.room.epoch).not.toBe('some-epoch');
      });

      it('returns exactly the events after the asked version, in order', async () => {
        const room = await fourEvents('tx-log');
        const epoch = room.room.epoch;
        expect(await store.readSince('tx-log', 1, epoch)).toEqual({ kind: 'events', events: room.events.slice(1), version: 4, epoch });
        expect(await store.readSince('tx-log', 2, epoch)).toEqual({ kind: 'events', events: room.events.slice(2), version: 4, epoch });
        expect(await store.readSince('tx-log', 3)).toEqual({ kind: 'events', events: room.events.slice(3), version: 4, epoch });
        expect(await store.readSince('tx-log', 1)).toEqual({ kind: 'events', events: room.events.slice(1), version: 4, epoch });
      });

      it('returns no events when afterVersion is the room version', async () => {
        const room = await fourEvents('tx-log-now');
        const epoch = room.room.epoch;
        expect(await store.readSince('tx-log-now', 4, epoch)).toEqual({ kind: 'events', events: [], version: 4, epoch });
        expect(await store.readSince('tx-log-now', 4)).toEqual({ kind: 'events', events: [], version: 4, epoch });
      });

      it('returns a snapshot of the current room when afterVersion is above the room version', async () => {
        const room = await fourEvents('tx-log-ahead');
        const epoch = room.room.epoch;
        expect(await store.readSince('tx-log-ahead', 5, epoch)).toEqual({ kind: 'snapshot', room: room.room });
        expect(await store.readSince('tx-log-ahead', 1000)).toEqual({ kind: 'snapshot', room: room.room });
      });

      it('returns a snapshot for another epoch with afterVersion above 0', async () => {
        const room = await fourEvents('tx-log-epoch');
        expect(await store.readSince('tx-log-epoch', 1, 'another-epoch')).toEqual({ kind: 'snapshot', room: room.room });
        expect(await store.readSince('tx-log-epoch', 4, 'another-epoch')).toEqual({ kind: 'snapshot', room: room.room });
      });

      it('returns every event for afterVersion 0, whatever the epoch', async () => {
        const room = await fourEvents('tx-log-zero');
        const epoch = room.room.epoch;
        const all = { kind: 'events', events: room.events, version: 4, epoch };
        expect(await store.readSince('tx-log-zero', 0)).toEqual(all);
        expect(await store.readSince('tx-log-zero', 0, epoch)).toEqual(all);
        expect(await store.readSince('tx-log-zero', 0, 'another-epoch')).toEqual(all);
      });

      it('returns the events of a multi-event commit (ReadinessChanged then RoomResolved)', async () => {
        const room = await RoomDriver.open(store, 'tx-log-resolve');
        await room.join('u1');
        await room.join('u2');
        await room.select('u1', 'price', '45000');
        await room.apply('u1', { kind: 'setReady', isReady: true });
        const batch = await room.apply('u2', { kind: 'setReady', isReady: true });
        expect(batch.map((e) => [e.type, e.version])).toEqual([
          ['ReadinessChanged', 5],
          ['RoomResolved', 6],
        ]);
        expect(room.room.status).toBe('RESOLVED');
        const epoch = room.room.epoch;
        expect(await store.readSince('tx-log-resolve', 4, epoch)).toEqual({ kind: 'events', events: batch, version: 6, epoch });
        expect(await store.readSince('tx-log-resolve', 5, epoch)).toEqual({ kind: 'events', events: batch.slice(1), version: 6, epoch });
        expect(await store.load('tx-log-resolve')).toEqual({ room: room.room, revision: 5, requestDone: false });
      });

      it('does not log a commit without events, but still moves the revision', async () => {
        const room = await RoomDriver.open(store, 'tx-log-quiet');
        await room.join('u1');
        await room.apply('u1', presence('u1', 1));
        // A newer mark that does not flip: the state changes, no event.
        const quiet = await room.apply('u1', presence('u1', 3));
        expect(quiet).toEqual([]);
        expect(room.room.version).toBe(2);
        expect(room.room.participants[0]).toMatchObject({ online: true, presenceSeq: 3 });
        expect(await store.load('tx-log-quiet')).toEqual({ room: room.room, revision: 3, requestDone: false });
        const epoch = room.room.epoch;
        expect(await store.readSince('tx-log-quiet', 0, epoch)).toEqual({ kind: 'events', events: room.events, version: 2, epoch });
        expect(await store.readSince('tx-log-quiet', 2, epoch)).toEqual({ kind: 'events', events: [], version: 2, epoch });
      });

      it(`serves a resume inside a trimmed log and a snapshot before it (log of ${contractStoreOptions.eventLogLength})`, async () => {
        const room = await RoomDriver.open(store, 'tx-trim');
        await room.join('u1');
        for (let i = 2; i <= 250; i++) await room.select('u1', 'price', String(i));
        expect(room.room.version).toBe(250);
        expect(room.events.map((e) => e.version)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
        const epoch = room.room.epoch;

        expect(await store.readSince('tx-trim', 1, epoch)).toEqual({ kind: 'snapshot', room: room.room });
        expect(await store.readSince('tx-trim', 0)).toEqual({ kind: 'snapshot', room: room.room });
        expect(await store.readSince('tx-trim', 100, epoch)).toEqual({ kind: 'snapshot', room: room.room });
        expect(await store.readSince('tx-trim', 245, epoch)).toEqual({ kind: 'events', events: room.events.slice(245), version: 250, epoch });
        expect(await store.readSince('tx-trim', 249, epoch)).toEqual({ kind: 'events', events: room.events.slice(249), version: 250, epoch });
        expect(await store.readSince('tx-trim', 250, epoch)).toEqual({ kind: 'events', events: [], version: 250, epoch });
        expect(await store.load('tx-trim')).toEqual({ room: room.room, revision: 250, requestDone: false });
      });
    });

    describe('readHistory', () => {
      it('of a room never written: nothing, epoch empty', async () => {
        expect(await store.readHistory('tx-hist-none', 0, 100)).toEqual({ epoch: '', version: 0, events: [], hasMore: false });
      });

      it(`pages through every event from version 1, far past the resume reach (${contractStoreOptions.eventLogLength})`, async () => {
        const room = await RoomDriver.open(store, 'tx-hist');
        await room.join('u1');
        await room.join('u2');
        for (let i = 1; i <= 40; i++) await room.select(i % 2 ? 'u1' : 'u2', 'price', String(i));
        await room.apply('u1', { kind: 'setReady', isReady: true });
        await room.apply('u2', { kind: 'setReady', isReady: true });
        expect(room.room.version).toBe(45);
        const epoch = room.room.epoch;
        // The resume log no longer reaches back, the history does.
        expect((await store.readSince('tx-hist', 1, epoch)).kind).toBe('snapshot');
        expect(await store.readHistory('tx-hist', 0, 20)).toEqual({ epoch, version: 45, events: room.events.slice(0, 20), hasMore: true });
        expect(await store.readHistory('tx-hist', 20, 20)).toEqual({ epoch, version: 45, events: room.events.slice(20, 40), hasMore: true });
        expect(await store.readHistory('tx-hist', 40, 20)).toEqual({ epoch, version: 45, events: room.events.slice(40), hasMore: false });
        expect(await store.readHistory('tx-hist', 0, 500)).toEqual({ epoch, version: 45, events: room.events, hasMore: false });
        expect(await store.readHistory('tx-hist', 44, 1)).toEqual({ epoch, version: 45, events: room.events.slice(44), hasMore: false });
        expect(await store.readHistory('tx-hist', 45, 10)).toEqual({ epoch, version: 45, events: [], hasMore: false });
        expect(await store.readHistory('tx-hist', 90, 10)).toEqual({ epoch, version: 45, events: [], hasMore: false });
        expect(room.events.at(-1)?.type).toBe('RoomResolved');
      });
    });

    describe('live delivery', () => {
      it('delivers every batch committed after subscribe resolves exactly once, in order, with the epoch', async () => {
        const room = await RoomDriver.open(store, 'tx-live');
        const listener = new BatchCollector();
        await subscribe('tx-live', listener);
        const epoch = room.room.epoch;
        const expected: EventBatch[] = [];
        expected.push({ epoch, events: await room.join('u1') });
        expected.push({ epoch, events: await room.join('u2') });
        expected.push({ epoch, events: await room.select('u1', 'price', '45000') });
        expected.push({ epoch, events: await room.apply('u1', { kind: 'setReady', isReady: true }) });
        expected.push({ epoch, events: await room.apply('u2', { kind: 'setReady', isReady: true }) });
        expect(expected[4]?.events.map((e) => e.type)).toEqual(['ReadinessChanged', 'RoomResolved']);
        expect(await listener.until(5)).toEqual(expected);

        // One more batch proves no earlier one came twice (delivery is in commit order).
        expected.push({ epoch, events: await room.apply('u1', presence('u1', 1)) });
        expect(await listener.until(6)).toEqual(expected);
      });

      it('delivers one batch to every listener of the room', async () => {
        const room = await RoomDriver.open(store, 'tx-live-many');
        const first = new BatchCollector();
        const second = new BatchCollector();
        await subscribe('tx-live-many', first);
        await subscribe('tx-live-many', second);
        const batch = { epoch: room.room.epoch, events: await room.join('u1') };
        expect(await first.until(1)).toEqual([batch]);
        expect(await second.until(1)).toEqual([batch]);
        const next = { epoch: room.room.epoch, events: await room.select('u1', 'price', '1') };
        expect(await first.until(2)).toEqual([batch, next]);
        expect(await second.until(2)).toEqual([batch, next]);
      });

      it('publishes nothing for a commit without events', async () => {
        const room = await RoomDriver.open(store, 'tx-live-quiet');
        await room.join('u1');
        await room.apply('u1', presence('u1', 1));
        const listener = new BatchCollector();
        await subscribe('tx-live-quiet', listener);

        expect(await room.apply('u1', presence('u1', 3))).toEqual([]);
        const after = await room.select('u1', 'price', '1');
        // Delivery is in commit order: had the quiet commit published, its batch would come first.
        expect(await listener.until(1)).toEqual([{ epoch: room.room.epoch, events: after }]);
      });

      it('stops delivery to a listener once its unsubscribe is called', async () => {
        const room = await RoomDriver.open(store, 'tx-live-unsub');
        const leaving = new BatchCollector();
        const staying = new BatchCollector();
        const unsubscribe = await subscribe('tx-live-unsub', leaving);
        await subscribe('tx-live-unsub', staying);
        const epoch = room.room.epoch;
        const one = { epoch, events: await room.join('u1') };
        expect(await leaving.until(1)).toEqual([one]);
        expect(await staying.until(1)).toEqual([one]);

        unsubscribe();
        unsubscribe(); // ending twice is harmless
        const two = { epoch, events: await room.select('u1', 'price', '1') };
        const three = { epoch, events: await room.select('u1', 'price', '2') };
        expect(await staying.until(3)).toEqual([one, two, three]);
        expect(leaving.batches).toEqual([one]);
      });

      it('delivers to a listener that subscribes again after the room had no listener', async () => {
        const room = await RoomDriver.open(store, 'tx-live-again');
        const before = new BatchCollector();
        const unsubscribe = await subscribe('tx-live-again', before);
        unsubscribe();
        const after = new BatchCollector();
        await subscribe('tx-live-again', after);
        const batch = { epoch: room.room.epoch, events: await room.join('u1') };
        expect(await after.until(1)).toEqual([batch]);
        const next = { epoch: room.room.epoch, events: await room.select('u1', 'price', '1') };
        expect(await after.until(2)).toEqual([batch, next]);
        expect(before.batches).toEqual([]);
      });

      it("keeps rooms' batches apart", async () => {
        const a = await RoomDriver.open(store, 'tx-live-a');
        const b = await RoomDriver.open(store, 'tx-live-b');
        const onA = new BatchCollector();
        const onB = new BatchCollector();
        await subscribe('tx-live-a', onA);
        await subscribe('tx-live-b', onB);
        const a1 = { epoch: a.room.epoch, events: await a.join('u1') };
        const b1 = { epoch: b.room.epoch, events: await b.join('u1') };
        const a2 = { epoch: a.room.epoch, events: await a.select('u1', 'price', 'a') };
        const b2 = { epoch: b.room.epoch, events: await b.select('u1', 'price', 'b') };
        expect(await onA.until(2)).toEqual([a1, a2]);
        expect(await onB.until(2)).toEqual([b1, b2]);
        // One more on each proves nothing of the other room slipped in meanwhile.
        const a3 = { epoch: a.room.epoch, events: await a.select('u1', 'price', 'a3') };
        const b3 = { epoch: b.room.epoch, events: await b.select('u1', 'price', 'b3') };
        expect(await onA.until(3)).toEqual([a1, a2, a3]);
        expect(await onB.until(3)).toEqual([b1, b2, b3]);
      });

      it('publishes nothing for a conflict or a duplicate', async () => {
        const room = await RoomDriver.open(store, 'tx-live-rejected');
        await room.join('u1');
        const request = { userId: 'u1', requestId: 'r1' };
        await room.select('u1', 'price', '1', request);
        const listener = new BatchCollector();
        await subscribe('tx-live-rejected', listener);

        const stale = decide(emptyRoom('tx-live-rejected', room.room.epoch), { kind: 'join', userName: 'X', presence: noPresence }, ctx('u9'));
        expect((await store.commit({ transactionId: 'tx-live-rejected', baseRevision: 0, room: stale.room, events: stale.events })).status).toBe(
          'conflict',
        );
        const retry = room.decide('u1', { kind: 'select', field: 'price', value: '9' });
        expect(
          (await store.commit({ transactionId: 'tx-live-rejected', baseRevision: 2, room: retry.room, events: retry.events, request })).status,
        ).toBe('duplicate');
        const real = await room.select('u1', 'price', '2');
        expect(await listener.until(1)).toEqual([{ epoch: room.room.epoch, events: real }]);
      });
    });
  });
}
