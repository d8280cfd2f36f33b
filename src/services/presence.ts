/**
 * Presence on this instance. Each open event subscription is counted here per room and user; the
 * presence store is told when a user's count here leaves or reaches 0 (a hold or a release by this
 * instance's owner id), and it answers whether that flipped the user's presence across all
 * instances. Only a flip touches the room: its mark is written through the RoomService as a
 * PresenceChanged event, in version order with the room's other events.
 *
 * One loop per room brings the store in line with the counts, so the operations of one room never
 * overlap here; a write that fails (Redis away) is retried with backoff until the store agrees.
 */
import { randomUUID } from 'node:crypto';
import type { PresenceMark } from '../domain/room.js';
import { DomainError, StoreUnavailableError } from '../errors.js';
import type { PresenceStore } from '../ports/presence-store.js';
import type { RoomService } from './room-service.js';

interface LocalRoom {
  /** Open subscriptions here, per user. */
  counts: Map<string, number>;
  /** Users the store confirmed as held by this instance's current owner id. */
  held: Set<string>;
  /** Users whose count or hold changed since the store last agreed: only they are looked at. */
  dirty: Set<string>;
  /** Flips not yet written into the room. */
  flips: Map<string, PresenceMark>;
  /** Users whose last hold or release failed: it may have landed, and its flip with it. */
  uncertain: Set<string>;
  /** The loop bringing the store in line, while one runs. */
  running: Promise<void> | null;
}

export interface PresenceOptions {
  store: PresenceStore;
  rooms: RoomService;
  /** INSTANCE_ID: owner ids are `<instanceId>/<nonce>`, new for every process and every rotation. */
  instanceId: string;
  onError(error: unknown, context: string): void;
  /** First retry delay after a failed write, doubled up to maxRetryMs. Default 200. */
  retryMs?: number;
  /** Default 5,000. */
  maxRetryMs?: number;
}

export class PresenceTracker {
  private readonly rooms = new Map<string, LocalRoom>();
  private stopped = false;
  /** This process's name in the presence store; replaced when the store lost it (see rotate). */
  owner: string;

  constructor(private readonly options: PresenceOptions) {
    this.owner = newOwner(options.instanceId);
  }

  /** Registers the owner, so that its holds are swept if this process dies. */
  async start(): Promise<void> {
    try {
      await this.options.store.register(this.owner);
    } catch (error) {
      // The first heartbeat finds the owner unknown and rotates, which registers again.
      this.options.onError(error, 'presence registration failed; retried at the next heartbeat');
    }
  }

  /** A subscription opened. */
  acquire(transactionId: string, userId: string): void {
    const room = this.room(transactionId);
    room.counts.set(userId, (room.counts.get(userId) ?? 0) + 1);
    room.dirty.add(userId);
    this.kick(transactionId, room);
  }

  /** A subscription closed. */
  release(transactionId: string, userId: string): void {
    const room = this.rooms.get(transactionId);
    const count = room?.counts.get(userId);
    if (!room || count === undefined) return;
    if (count <= 1) room.counts.delete(userId);
    else room.counts.set(userId, count - 1);
    room.dirty.add(userId);
    this.kick(transactionId, room);
  }

  /**
   * The store no longer knows this owner as alive (it was swept while this process could not reach
   * it): take a new owner id and hold everyone again. The old id's holds are swept by whoever claimed it.
   */
  async rotate(): Promise<void> {
    const next = newOwner(this.options.instanceId);
    await this.options.store.register(next);
    this.owner = next;
    for (const [transactionId, room] of this.rooms) {
      room.held.clear();
      for (const userId of room.counts.keys()) room.dirty.add(userId);
      this.kick(transactionId, room);
    }
  }

  /**
   * Holds everyone held here again. Holds are idempotent, refresh the presence hash's TTL, and put back
   * a hold the store lost (evicted, a failover): the sweeper calls this now and then (anti-entropy).
   */
  reassert(): void {
    for (const [transactionId, room] of this.rooms) {
      room.held.clear();
      for (const userId of room.counts.keys()) room.dirty.add(userId);
      this.kick(transactionId, room);
    }
  }

  /** Resolves once no presence write is pending or being retried. */
  async settled(): Promise<void> {
    for (;;) {
      const running = [...this.rooms.values()].map((r) => r.running).filter((p) => p !== null);
      if (running.length === 0) return;
      await Promise.allSettled(running);
    }
  }

  /**
   * For a clean stop, after every subscription closed: waits up to `timeoutMs` for the releases to
   * land, then forgets this owner. What could not be written is left to the sweepers of the other
   * instances (or of this one's successor), which clear it once the store answers.
   */
  async stop(timeoutMs: number): Promise<void> {
    // Closed sockets release their subscriptions a few ticks after closing.
    const deadline = Date.now() + timeoutMs;
    while (this.rooms.size > 0 && Date.now() < deadline) {
      const running = [...this.rooms.values()].map((r) => r.running).filter((p) => p !== null);
      await Promise.race([Promise.allSettled(running), new Promise((resolve) => setTimeout(resolve, 20))]);
    }
    this.stopped = true;
    if (this.rooms.size > 0) return;
    try {
      await this.options.store.forget(this.owner);
    } catch (error) {
      this.options.onError(error, 'presence: could not forget this instance; its heartbeat expires instead');
    }
  }

  private room(transactionId: string): LocalRoom {
    let room = this.rooms.get(transactionId);
    if (!room) this.rooms.set(transactionId, (room = { counts: new Map(), held: new Set(), dirty: new Set(), flips: new Map(), uncertain: new Set(), running: null }));
    return room;
  }

  private kick(transactionId: string, room: LocalRoom): void {
    if (room.running || this.stopped) return; // the running loop looks at the counts again after each step
    room.running = this.run(transactionId, room).finally(() => {
      room.running = null;
      // A subscription may have come or gone during the loop's last await.
      if (hasWork(room)) this.kick(transactionId, room);
      else if (room.counts.size === 0 && room.held.size === 0 && this.rooms.get(transactionId) === room) this.rooms.delete(transactionId);
    });
  }

  private async run(transactionId: string, room: LocalRoom): Promise<void> {
    const { retryMs = 200, maxRetryMs = 5000 } = this.options;
    let delay = retryMs;
    while (!this.stopped) {
      try {
        if (!(await this.step(transactionId, room))) return;
        delay = retryMs;
      } catch (error) {
        if (error instanceof DomainError && !(error instanceof StoreUnavailableError) && error.code !== 'STORE_UNAVAILABLE') {
          // A refusal will not change by retrying (it cannot happen for presence today).
          this.options.onError(error, 'presence');
          room.flips.clear();
          continue;
        }
        this.options.onError(error, 'presence write failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, delay).unref?.());
        delay = Math.min(delay * 2, maxRetryMs);
      }
    }
  }

  /** One step towards agreement; false when there is nothing left to do. */
  private async step(transactionId: string, room: LocalRoom): Promise<boolean> {
    const { store, rooms } = this.options;
    for (const userId of room.dirty) {
      const wanted = room.counts.has(userId);
      if (wanted === room.held.has(userId)) {
        room.dirty.delete(userId);
        continue;
      }
      const owner = this.owner;
      let change;
      try {
        change = wanted ? await store.hold(transactionId, userId, owner) : await store.release(transactionId, userId, owner);
      } catch (error) {
        room.uncertain.add(userId);
        throw error;
      }
      if (owner !== this.owner) return true; // rotated meanwhile: everything is held again
      if (wanted) room.held.add(userId);
      else room.held.delete(userId);
      // After a call whose reply was lost, the flip it made may be lost with it: write the mark as it
      // is now (marks are idempotent in the room).
      const uncertain = room.uncertain.delete(userId);
      if (change.flipped || uncertain) room.flips.set(userId, change.mark);
      return true;
    }
    if (room.flips.size > 0) {
      const marks = [...room.flips].map(([userId, mark]) => ({ userId, ...mark }));
      await rooms.applyPresence(transactionId, marks);
      for (const { userId, seq } of marks) if (room.flips.get(userId)?.seq === seq) room.flips.delete(userId);
      return true;
    }
    if (room.counts.size === 0 && room.held.size === 0) await store.dropRoom(this.owner, transactionId);
    return false;
  }
}

function hasWork(room: LocalRoom): boolean {
  if (room.flips.size > 0) return true;
  for (const userId of room.dirty) if (room.counts.has(userId) !== room.held.has(userId)) return true;
  return false;
}

const newOwner = (instanceId: string) => `${instanceId}/${randomUUID().slice(0, 8)}`;
