/**
 * Presence on this instance: how many event subscriptions each user holds per room here. The store is
 * told when that number leaves or reaches 0 (a presence command, which the rules turn into a
 * PresenceChanged event when the participant's online state flips across all instances). What the
 * store was last told is remembered, and a write that failed (Redis away) is retried with backoff
 * until the store agrees with this instance again.
 */
import { DomainError, StoreUnavailableError } from '../errors.js';
import type { RoomService } from './room-service.js';

interface Entry {
  transactionId: string;
  userId: string;
  /** Open subscriptions here. */
  count: number;
  /** What the store last confirmed for this instance: online or not. */
  confirmed: boolean;
  /** The loop bringing the store in line, while one runs. */
  running: Promise<void> | null;
}

export interface PresenceOptions {
  onError(error: unknown, context: string): void;
  /** First retry delay after a failed write, doubled up to maxRetryMs. Default 200. */
  retryMs?: number;
  /** Default 5,000. */
  maxRetryMs?: number;
}

export class PresenceTracker {
  private readonly entries = new Map<string, Entry>();
  private stopped = false;

  constructor(
    private readonly rooms: RoomService,
    private readonly options: PresenceOptions,
  ) {}

  /** True while the user holds a subscription to the room on this instance (a join then counts as online). */
  isHere(transactionId: string, userId: string): boolean {
    return (this.entries.get(key(transactionId, userId))?.count ?? 0) > 0;
  }

  /** A subscription opened. */
  acquire(transactionId: string, userId: string): void {
    const k = key(transactionId, userId);
    let entry = this.entries.get(k);
    if (!entry) this.entries.set(k, (entry = { transactionId, userId, count: 0, confirmed: false, running: null }));
    entry.count += 1;
    this.reconcile(k, entry);
  }

  /** A subscription closed. */
  release(transactionId: string, userId: string): void {
    const k = key(transactionId, userId);
    const entry = this.entries.get(k);
    if (!entry) return;
    entry.count = Math.max(0, entry.count - 1);
    this.reconcile(k, entry);
  }

  /**
   * Resolves when every presence write has landed, or after `timeoutMs`; then stops retrying. For
   * shutdown: closed sockets release their presence a few ticks after closing.
   */
  async whenIdle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.entries.size > 0 && Date.now() < deadline) {
      const running = [...this.entries.values()].map((e) => e.running).filter((p) => p !== null);
      await Promise.race([Promise.allSettled(running), new Promise((resolve) => setTimeout(resolve, 20))]);
    }
    this.stopped = true;
  }

  /** Resolves once no presence write is pending or being retried. */
  async settled(): Promise<void> {
    for (;;) {
      const running = [...this.entries.values()].map((e) => e.running).filter((p) => p !== null);
      if (running.length === 0) return;
      await Promise.allSettled(running);
    }
  }

  private reconcile(k: string, entry: Entry): void {
    if (entry.running) return; // the running loop looks at the count again after each write
    entry.running = (async () => {
      let delay = this.options.retryMs ?? 200;
      while (!this.stopped && entry.confirmed !== entry.count > 0) {
        const online = entry.count > 0;
        try {
          await this.rooms.execute(entry.transactionId, entry.userId, { kind: online ? 'connect' : 'disconnect' }, { rateLimited: false });
          entry.confirmed = online;
          delay = this.options.retryMs ?? 200;
        } catch (error) {
          if (error instanceof DomainError && !(error instanceof StoreUnavailableError) && error.code !== 'STORE_UNAVAILABLE') {
            this.options.onError(error, 'presence');
            entry.confirmed = online; // a refusal will not change by retrying
            continue;
          }
          this.options.onError(error, 'presence write failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, delay).unref?.());
          delay = Math.min(delay * 2, this.options.maxRetryMs ?? 5000);
        }
      }
      entry.running = null;
      if (entry.count === 0 && !entry.confirmed) this.entries.delete(k);
    })();
  }
}

const key = (transactionId: string, userId: string) => `${transactionId}\u0000${userId}`;
