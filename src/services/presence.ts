/**
 * Presence on this instance: how many event subscriptions each user holds per room here. The first
 * one opened and the last one closed each run a presence command, which the rules turn into a
 * PresenceChanged event when the participant's online state flips across all instances.
 */
import type { RoomService } from './room-service.js';

export class PresenceTracker {
  private readonly counts = new Map<string, number>();
  /** Presence commands of one user in one room run in order, so connect never overtakes disconnect. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly rooms: RoomService) {}

  /** True while the user holds a subscription to the room on this instance (a join then counts as online). */
  isHere(transactionId: string, userId: string): boolean {
    return (this.counts.get(key(transactionId, userId)) ?? 0) > 0;
  }

  /** A subscription opened. Rejects when the store cannot record it; release() must follow in any case. */
  acquire(transactionId: string, userId: string): Promise<void> {
    const k = key(transactionId, userId);
    const count = (this.counts.get(k) ?? 0) + 1;
    this.counts.set(k, count);
    return count === 1 ? this.run(k, transactionId, userId, 'connect') : (this.chains.get(k) ?? Promise.resolve());
  }

  /** A subscription closed. */
  release(transactionId: string, userId: string): Promise<void> {
    const k = key(transactionId, userId);
    const count = (this.counts.get(k) ?? 1) - 1;
    if (count > 0) {
      this.counts.set(k, count);
      return Promise.resolve();
    }
    this.counts.delete(k);
    return this.run(k, transactionId, userId, 'disconnect');
  }

  /**
   * Resolves when no subscription is held here and every presence command has finished, or after
   * `timeoutMs`. For shutdown: closed sockets release their presence a few ticks after closing.
   */
  async whenIdle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.counts.size > 0 || this.chains.size > 0) && Date.now() < deadline) {
      await Promise.race([Promise.allSettled([...this.chains.values()]), new Promise((resolve) => setTimeout(resolve, 20))]);
    }
  }

  private run(k: string, transactionId: string, userId: string, kind: 'connect' | 'disconnect'): Promise<void> {
    const previous = this.chains.get(k) ?? Promise.resolve();
    const step = previous
      .catch(() => undefined)
      .then(async () => {
        await this.rooms.execute(transactionId, userId, { kind }, { rateLimited: false });
      });
    this.chains.set(k, step);
    void step
      .catch(() => undefined)
      .then(() => {
        if (this.chains.get(k) === step) this.chains.delete(k);
      });
    return step;
  }
}

const key = (transactionId: string, userId: string) => `${transactionId}\u0000${userId}`;
