/**
 * Dead instances: every instance proves it is alive (a heartbeat in the presence store) and sweeps
 * the instances that stopped proving it. With a bound B (PRESENCE_TIMEOUT_MS, default 15 s), an
 * instance beats and looks for dead ones every B/6, and one is dead after 2B/3 without a beat; so a
 * crashed instance's participants go offline at most 2B/3 + B/6 = 5B/6 after its last beat.
 *
 * Sweeping an owner: claim it (one sweeper at a time; a sweeper that dies hands it on after 2B/3),
 * release its holds room by room, write every participant's mark into each room, then forget it.
 * Marks carry seqs and the room takes only newer ones, so two sweepers racing on one room, or a sweep
 * repeated after a crash, still make exactly one PresenceChanged per participant.
 */
import type { PresenceStore } from '../ports/presence-store.js';
import type { PresenceTracker } from './presence.js';
import type { RoomService } from './room-service.js';

export interface PresenceSweeperOptions {
  store: PresenceStore;
  rooms: RoomService;
  tracker: PresenceTracker;
  /** The bound B in milliseconds (PRESENCE_TIMEOUT_MS). */
  timeoutMs: number;
  onError(error: unknown, context: string): void;
  /** Called after each owner swept, with the rooms it held someone in. */
  onSwept?(owner: string, rooms: readonly string[]): void;
  /** How often this instance holds everyone it holds again (TTLs, lost holds). Default 5 minutes. */
  reassertEveryMs?: number;
}

/** Owners claimed per round: a few dead instances are swept in one round, more in the next ones. */
const claimsPerRound = 16;

export class PresenceSweeper {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | null = null;
  /** When heartbeats last started succeeding again; no claims until they have for a whole stale period. */
  private healthySince: number | null = null;
  private lastReassert = Date.now();

  constructor(private readonly options: PresenceSweeperOptions) {}

  get intervalMs(): number {
    return Math.max(10, Math.floor(this.options.timeoutMs / 6));
  }

  get staleMs(): number {
    return Math.max(20, Math.floor((this.options.timeoutMs * 2) / 3));
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.round;
  }

  /** One round: beat, then sweep what is dead. Rounds never overlap. */
  tick(): Promise<void> {
    this.round ??= this.runRound().finally(() => (this.round = null));
    return this.round;
  }

  private async runRound(): Promise<void> {
    const { store, tracker, onError } = this.options;
    try {
      if (!(await store.heartbeat(tracker.owner))) await tracker.rotate();
      this.healthySince ??= Date.now();
    } catch (error) {
      this.healthySince = null;
      onError(error, 'presence heartbeat failed');
      return;
    }
    if (Date.now() - this.lastReassert >= (this.options.reassertEveryMs ?? 300_000)) {
      this.lastReassert = Date.now();
      tracker.reassert();
    }
    // After an outage every instance's last beat looks old: let the living beat again before judging.
    if (Date.now() - this.healthySince < this.staleMs) return;
    try {
      for (const owner of await store.claimStale(this.staleMs, claimsPerRound)) await this.sweep(owner);
    } catch (error) {
      // A claimed owner left half swept is claimed again after staleMs, by this instance or another.
      onError(error, 'presence sweep failed');
    }
  }

  private async sweep(owner: string): Promise<void> {
    const { store, rooms, onSwept } = this.options;
    const held = await store.roomsOf(owner);
    for (const transactionId of held) {
      await store.releaseOwner(transactionId, owner);
      // Every participant, not only those released now: the dead owner may have flipped someone
      // in the store and died before writing it into the room.
      await rooms.syncPresence(transactionId);
    }
    await store.forget(owner);
    onSwept?.(owner, held);
  }
}
