import type { PresenceMark } from '../domain/room.js';

/** What a hold or release did to the user's presence in the room. */
export interface PresenceChange {
  /** The user's presence after the change. */
  mark: PresenceMark;
  /** True when the change flipped `online` (the mark's seq is then new). */
  flipped: boolean;
}

/**
 * Who holds whom, apart from the room: presence changes at the rate of sockets and dies with an
 * instance, the room changes at the rate of people and lasts days. Only the flips meet the room, as
 * PresenceChanged events written through the RoomStore (see src/services/presence.ts).
 *
 * An *owner* is one running instance (INSTANCE_ID plus a per-process nonce, so that a restart with the
 * same INSTANCE_ID is a new owner). A user is online in a room while at least one owner holds them
 * there. Owners prove they are alive with heartbeats; the holds of an owner that stopped proving it
 * are released by whoever sweeps it. Failures to reach the store throw StoreUnavailableError.
 */
export interface PresenceStore {
  /** Records that `owner` holds the user in the room (idempotent); the room joins the owner's rooms first. */
  hold(transactionId: string, userId: string, owner: string): Promise<PresenceChange>;
  /**
   * Records that `owner` no longer holds the user in the room (idempotent). Callers release only what
   * they held: a hold the store does not have was lost, and when nobody else holds the user it is
   * reported as a flip to offline with a new seq, so the room does not stay online on it.
   */
  release(transactionId: string, userId: string, owner: string): Promise<PresenceChange>;
  /** The owner holds nobody in the room any more: the room leaves the owner's rooms. */
  dropRoom(owner: string, transactionId: string): Promise<void>;
  /** The users' current marks, in the order asked (`noPresence` for a user never held). */
  read(transactionId: string, userIds: readonly string[]): Promise<PresenceMark[]>;
  /** The owner starts proving it is alive. */
  register(owner: string): Promise<void>;
  /**
   * Proves the owner alive. False when the store no longer knows it as alive (it was claimed for a
   * sweep, or forgotten): the caller must register a new owner and hold its users again.
   */
  heartbeat(owner: string): Promise<boolean>;
  /**
   * Owners without a heartbeat for `staleMs`, claimed by this caller: no other sweeper claims them for
   * another `staleMs`, and their own heartbeats fail from now on. At most `max`.
   */
  claimStale(staleMs: number, max: number): Promise<string[]>;
  /** The rooms where the owner held someone and has not yet been cleaned out of. */
  roomsOf(owner: string): Promise<string[]>;
  /** Releases every hold of the owner in the room (idempotent); returns the users whose presence flipped. */
  releaseOwner(transactionId: string, owner: string): Promise<string[]>;
  /** Forgets the owner's room list and standing (after a sweep, or at a clean stop). */
  forget(owner: string): Promise<void>;
}
