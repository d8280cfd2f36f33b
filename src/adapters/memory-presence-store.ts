/**
 * The embedded presence store: the same contract as the Redis one, in this process's memory. With
 * the embedded store there is one instance, but the contract suite drives several owners through it.
 */
import { noPresence, type PresenceMark } from '../domain/room.js';
import type { PresenceChange, PresenceStore } from '../ports/presence-store.js';

export interface MemoryPresenceOptions {
  /** Milliseconds since the epoch; injectable for tests. Default Date.now. */
  clock?: () => number;
}

interface UserPresence {
  owners: Set<string>;
  seq: number;
}

export class MemoryPresenceStore implements PresenceStore {
  /** transactionId -> userId -> holds. */
  private readonly rooms = new Map<string, Map<string, UserPresence>>();
  /** owner -> last heartbeat (ms). */
  private readonly owners = new Map<string, number>();
  private readonly claims = new Set<string>();
  private readonly ownerRooms = new Map<string, Set<string>>();
  private readonly clock: () => number;
  private lastSeq = 0;

  constructor(options: MemoryPresenceOptions = {}) {
    this.clock = options.clock ?? Date.now;
  }

  async hold(transactionId: string, userId: string, owner: string): Promise<PresenceChange> {
    let rooms = this.ownerRooms.get(owner);
    if (!rooms) this.ownerRooms.set(owner, (rooms = new Set()));
    rooms.add(transactionId);
    const user = this.user(transactionId, userId);
    const flipped = !user.owners.has(owner) && user.owners.size === 0;
    user.owners.add(owner);
    if (flipped) this.bump(user);
    return { mark: markOf(user), flipped };
  }

  async release(transactionId: string, userId: string, owner: string): Promise<PresenceChange> {
    const user = this.user(transactionId, userId);
    // A hold the store does not have was lost (see the Redis release script): offline, if nobody holds the user.
    const flipped = user.owners.has(owner) ? user.owners.delete(owner) && user.owners.size === 0 : user.owners.size === 0;
    if (flipped) this.bump(user);
    return { mark: markOf(user), flipped };
  }

  async dropRoom(owner: string, transactionId: string): Promise<void> {
    this.ownerRooms.get(owner)?.delete(transactionId);
  }

  async read(transactionId: string, userIds: readonly string[]): Promise<PresenceMark[]> {
    const room = this.rooms.get(transactionId);
    return userIds.map((id) => {
      const user = room?.get(id);
      return user ? markOf(user) : noPresence;
    });
  }

  async register(owner: string): Promise<void> {
    this.owners.set(owner, this.clock());
  }

  async heartbeat(owner: string): Promise<boolean> {
    if (this.claims.has(owner) || !this.owners.has(owner)) return false;
    this.owners.set(owner, this.clock());
    return true;
  }

  async claimStale(staleMs: number, max: number): Promise<string[]> {
    const now = this.clock();
    const claimed: string[] = [];
    for (const [owner, beat] of this.owners) {
      if (claimed.length >= max) break;
      if (beat > now - staleMs) continue;
      this.owners.set(owner, now);
      this.claims.add(owner);
      claimed.push(owner);
    }
    return claimed;
  }

  async roomsOf(owner: string): Promise<string[]> {
    return [...(this.ownerRooms.get(owner) ?? [])];
  }

  async releaseOwner(transactionId: string, owner: string): Promise<string[]> {
    const flipped: string[] = [];
    for (const [userId, user] of this.rooms.get(transactionId) ?? []) {
      if (user.owners.delete(owner) && user.owners.size === 0) {
        this.bump(user);
        flipped.push(userId);
      }
    }
    return flipped;
  }

  async forget(owner: string): Promise<void> {
    this.owners.delete(owner);
    this.claims.delete(owner);
    this.ownerRooms.delete(owner);
  }

  private user(transactionId: string, userId: string): UserPresence {
    let room = this.rooms.get(transactionId);
    if (!room) this.rooms.set(transactionId, (room = new Map()));
    let user = room.get(userId);
    if (!user) room.set(userId, (user = { owners: new Set(), seq: 0 }));
    return user;
  }

  /**
   * Seqs grow across the whole store, and are microseconds of the clock when that is ahead, as in
   * Redis (where a room's presence may expire before the room and must not restart from 1).
   */
  private bump(user: UserPresence): void {
    this.lastSeq = Math.max(this.lastSeq + 1, this.clock() * 1000);
    user.seq = this.lastSeq;
  }

}

const markOf = (user: UserPresence): PresenceMark => ({ online: user.owners.size > 0, seq: user.seq });
