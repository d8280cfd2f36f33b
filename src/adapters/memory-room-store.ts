/**
 * The embedded store: rooms, logs and requests in this process's memory, with the same contract as the
 * Redis store. It is the default when no REDIS_URL is set, so `npm start` needs nothing else; it is not
 * shared between instances and does not survive a restart.
 */
import { randomUUID } from 'node:crypto';
import type { EventBatch, RoomEvent } from '../domain/events.js';
import { resolutionOf } from '../domain/resolution.js';
import { emptyRoom, type RoomState } from '../domain/room.js';
import type { RoomEvents, RoomEventsListener } from '../ports/room-events.js';
import type { CommitResult, HistoryPage, LogRead, RequestKey, RoomCommit, RoomStore, StoredRoom } from '../ports/room-store.js';
import type { MemoryResolutionOutbox } from './memory-resolution-outbox.js';

export interface MemoryStoreOptions {
  /** Seconds a room lives after its last write. */
  ttlSeconds: number;
  /** How far back a resume reaches (events); further back it gets a snapshot. */
  eventLogLength: number;
  /** Events kept per room as its history; at least eventLogLength. Default: eventLogLength. */
  historyMaxEvents?: number;
  /** Where a commit that resolves a room records the resolution for the webhook. */
  outbox?: MemoryResolutionOutbox;
  /** Seconds a succeeded requestId is remembered. */
  requestIdTtlSeconds: number;
  /** Milliseconds since the epoch; injectable for tests of expiry. Default Date.now. */
  clock?: () => number;
  newEpoch?: () => string;
}

interface MemoryRoom {
  room: RoomState;
  revision: number;
  /** The room's history, the oldest dropped past historyMaxEvents. */
  log: RoomEvent[];
  expiresAt: number;
}

/** In-process fan-out for the embedded store. */
export class MemoryRoomEvents implements RoomEvents {
  private readonly listeners = new Map<string, Set<RoomEventsListener>>();

  /** @param onFanOut called after a batch was handed to every local listener (metrics). */
  constructor(private readonly onFanOut?: (batch: EventBatch, listeners: number) => void) {}

  async subscribe(transactionId: string, listener: RoomEventsListener): Promise<() => void> {
    let set = this.listeners.get(transactionId);
    if (!set) this.listeners.set(transactionId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(transactionId) === set) this.listeners.delete(transactionId);
    };
  }

  publish(transactionId: string, batch: EventBatch): void {
    const listeners = this.listeners.get(transactionId);
    if (!listeners) return;
    for (const listener of listeners) listener.onBatch(batch);
    this.onFanOut?.(batch, listeners.size);
  }

  /** Rooms with at least one listener; for tests of release. */
  listenedRooms(): number {
    return this.listeners.size;
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

export class MemoryRoomStore implements RoomStore {
  private readonly rooms = new Map<string, MemoryRoom>();
  private readonly requests = new Map<string, number>();
  private readonly clock: () => number;
  private readonly newEpoch: () => string;
  private commitsSinceSweep = 0;

  constructor(
    private readonly events: MemoryRoomEvents,
    private readonly options: MemoryStoreOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.newEpoch = options.newEpoch ?? (() => randomUUID());
  }

  async load(transactionId: string, request?: RequestKey): Promise<StoredRoom> {
    return this.stored(transactionId, request);
  }

  async loadIfChanged(transactionId: string, revision: number, epoch: string): Promise<StoredRoom | null> {
    const entry = this.live(transactionId);
    if (entry && entry.revision === revision && entry.room.epoch === epoch) return null;
    return this.stored(transactionId);
  }

  async commit(commit: RoomCommit): Promise<CommitResult> {
    const { transactionId, request } = commit;
    if (request && this.requestDone(transactionId, request)) {
      return { status: 'duplicate', current: this.stored(transactionId, request) };
    }
    const entry = this.live(transactionId);
    if ((entry?.revision ?? 0) !== commit.baseRevision) {
      return { status: 'conflict', current: this.stored(transactionId) };
    }
    const now = this.clock();
    if (++this.commitsSinceSweep >= 1000) this.sweep(now);
    let revision = commit.baseRevision;
    if (commit.room) {
      revision += 1;
      const { eventLogLength, historyMaxEvents = eventLogLength } = this.options;
      const log = [...(entry?.log ?? []), ...commit.events].slice(-Math.max(eventLogLength, historyMaxEvents));
      this.rooms.set(transactionId, { room: commit.room, revision, log, expiresAt: now + this.options.ttlSeconds * 1000 });
      // The same step as the write: a room cannot resolve without its delivery recorded.
      const resolution = this.options.outbox ? resolutionOf(commit.room, commit.events) : null;
      if (resolution) this.options.outbox?.record(resolution);
    }
    if (request) this.requests.set(requestKey(transactionId, request), now + this.options.requestIdTtlSeconds * 1000);
    if (commit.room && commit.events.length > 0) {
      this.events.publish(transactionId, { epoch: commit.room.epoch, events: commit.events });
    }
    return { status: 'committed', revision };
  }

  async readSince(transactionId: string, afterVersion: number, epoch?: string): Promise<LogRead> {
    const entry = this.live(transactionId);
    if (!entry) {
      if (afterVersion > 0) return { kind: 'snapshot', room: emptyRoom(transactionId, this.newEpoch()) };
      return { kind: 'events', events: [], version: 0, epoch: '' };
    }
    const { room, log } = entry;
    const otherHistory = !!epoch && afterVersion > 0 && epoch !== room.epoch;
    // A resume reaches back eventLogLength events however much history is kept.
    if (otherHistory || afterVersion > room.version || room.version - afterVersion > this.options.eventLogLength) return { kind: 'snapshot', room };
    if (afterVersion === room.version) return { kind: 'events', events: [], version: room.version, epoch: room.epoch };
    const first = log[0]?.version ?? Infinity;
    if (first > afterVersion + 1) return { kind: 'snapshot', room };
    return { kind: 'events', events: log.slice(afterVersion + 1 - first), version: room.version, epoch: room.epoch };
  }

  async readHistory(transactionId: string, afterVersion: number, first: number): Promise<HistoryPage> {
    const entry = this.live(transactionId);
    if (!entry) return { epoch: '', version: 0, events: [], hasMore: false };
    const events = entry.log.filter((e) => e.version > afterVersion).slice(0, first);
    const last = events.at(-1)?.version;
    return { epoch: entry.room.epoch, version: entry.room.version, events, hasMore: last !== undefined && last < entry.room.version };
  }

  async ping(): Promise<void> {
    // In this process: always there.
  }

  async close(): Promise<void> {
    this.rooms.clear();
    this.requests.clear();
  }

  /** Expired rooms and requests nobody asks for again would otherwise stay forever. */
  private sweep(now: number): void {
    this.commitsSinceSweep = 0;
    for (const [id, entry] of this.rooms) if (entry.expiresAt <= now) this.rooms.delete(id);
    for (const [key, expiresAt] of this.requests) if (expiresAt <= now) this.requests.delete(key);
  }

  private stored(transactionId: string, request?: RequestKey): StoredRoom {
    const entry = this.live(transactionId);
    return {
      room: entry?.room ?? emptyRoom(transactionId, this.newEpoch()),
      revision: entry?.revision ?? 0,
      requestDone: request ? this.requestDone(transactionId, request) : false,
    };
  }

  /** The room's entry unless it expired; expiry is checked on access, as Redis does. */
  private live(transactionId: string): MemoryRoom | undefined {
    const entry = this.rooms.get(transactionId);
    if (entry && entry.expiresAt <= this.clock()) {
      this.rooms.delete(transactionId);
      return undefined;
    }
    return entry;
  }

  private requestDone(transactionId: string, request: RequestKey): boolean {
    const key = requestKey(transactionId, request);
    const expiresAt = this.requests.get(key);
    if (expiresAt === undefined) return false;
    if (expiresAt > this.clock()) return true;
    this.requests.delete(key);
    return false;
  }
}

function requestKey(transactionId: string, { userId, requestId }: RequestKey): string {
  return JSON.stringify([transactionId, userId, requestId]);
}

export function createMemoryAdapters(
  options: MemoryStoreOptions,
  onFanOut?: (batch: EventBatch, listeners: number) => void,
): { store: MemoryRoomStore; events: MemoryRoomEvents } {
  // The outbox, when there is one, comes in the options: the worker reads the same instance.
  const events = new MemoryRoomEvents(onFanOut);
  return { store: new MemoryRoomStore(events, options), events };
}
