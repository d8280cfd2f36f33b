/**
 * The embedded outbox: the memory store records resolutions here in its commit (record), and the
 * delivery worker of this same process takes them. Same contract as the Redis outbox; nothing is kept
 * across a restart, as with the rest of the embedded store.
 */
import type { ResolutionRecord } from '../domain/resolution.js';
import type { ClaimedDelivery, FailedDelivery, ResolutionOutbox } from '../ports/resolution-outbox.js';

interface Entry extends ResolutionRecord {
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  /** When due, or when the current lease ends (ms). */
  dueAt: number;
  /** The last claim's lease: leases only grow, so each claim's token is its own. */
  lastLease: number;
  failedAt?: number;
  lastError?: string;
}

const keyOf = (transactionId: string, epoch: string) => JSON.stringify([transactionId, epoch]);

export class MemoryResolutionOutbox implements ResolutionOutbox {
  private readonly entries = new Map<string, Entry>();

  /** @param clock milliseconds; injectable for tests. Default Date.now. */
  constructor(private readonly clock: () => number = Date.now) {}

  /** Called by the memory store inside its commit; a resolution recorded before is kept as it is. */
  record(record: ResolutionRecord): void {
    const key = keyOf(record.transactionId, record.epoch);
    if (!this.entries.has(key)) this.entries.set(key, { ...record, state: 'pending', attempts: 0, dueAt: this.clock(), lastLease: 0 });
  }

  async claimDue(max: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    const now = this.clock();
    const claimed: ClaimedDelivery[] = [];
    const due = [...this.entries].filter(([, e]) => e.state === 'pending' && e.dueAt <= now).sort(([, a], [, b]) => a.dueAt - b.dueAt);
    for (const [key, entry] of due.slice(0, max)) {
      entry.dueAt = entry.lastLease = Math.max(now + leaseMs, entry.lastLease + 1);
      entry.attempts += 1;
      const { transactionId, epoch, webhookId, body } = entry;
      claimed.push({ key, transactionId, epoch, webhookId, body, attempt: entry.attempts, lease: entry.dueAt });
    }
    return claimed;
  }

  async delivered(claim: ClaimedDelivery): Promise<boolean> {
    const entry = this.held(claim);
    if (!entry) return false;
    entry.state = 'delivered';
    // Nothing reads a delivered entry again; the memory store keeps no audit beyond the room itself.
    this.entries.delete(claim.key);
    return true;
  }

  async retryLater(claim: ClaimedDelivery, delayMs: number, error: string): Promise<boolean> {
    const entry = this.held(claim);
    if (!entry) return false;
    entry.dueAt = this.clock() + delayMs;
    entry.lastError = error;
    return true;
  }

  async failed(claim: ClaimedDelivery, error: string): Promise<boolean> {
    const entry = this.held(claim);
    if (!entry) return false;
    Object.assign(entry, { state: 'failed', failedAt: this.clock(), lastError: error });
    return true;
  }

  async listFailed(max: number): Promise<FailedDelivery[]> {
    return [...this.entries]
      .filter(([, e]) => e.state === 'failed')
      .sort(([, a], [, b]) => (b.failedAt ?? 0) - (a.failedAt ?? 0))
      .slice(0, max)
      .map(([key, e]) => ({
        key,
        transactionId: e.transactionId,
        epoch: e.epoch,
        webhookId: e.webhookId,
        attempts: e.attempts,
        failedAt: new Date(e.failedAt ?? 0).toISOString(),
        lastError: e.lastError ?? '',
      }));
  }

  async requeue(key: string): Promise<boolean> {
    const entry = this.entries.get(key);
    if (entry?.state !== 'failed') return false;
    Object.assign(entry, { state: 'pending', attempts: 0, dueAt: this.clock() });
    return true;
  }

  async pendingCount(): Promise<number> {
    return [...this.entries.values()].filter((e) => e.state === 'pending').length;
  }

  /** The entry while `claim` still holds its lease. */
  private held(claim: ClaimedDelivery): Entry | undefined {
    const entry = this.entries.get(claim.key);
    return entry?.state === 'pending' && entry.dueAt === claim.lease && entry.lastLease === claim.lease ? entry : undefined;
  }
}
