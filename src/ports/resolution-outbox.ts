import type { ResolutionRecord } from '../domain/resolution.js';

/** A delivery this caller holds the lease of, for one attempt. */
export interface ClaimedDelivery extends ResolutionRecord {
  /** Opaque name of the delivery in the outbox. */
  key: string;
  /** This attempt's number, from 1. A claim whose holder died still counted. */
  attempt: number;
  /** Fencing token: settling with a lease that another claim replaced does nothing. */
  lease: number;
}

export interface FailedDelivery {
  key: string;
  transactionId: string;
  epoch: string;
  webhookId: string;
  attempts: number;
  /** ISO-8601. */
  failedAt: string;
  lastError: string;
}

/**
 * The durable outbox of resolutions waiting for the webhook (SEMANTICS.md, "Resolution webhook").
 * Entries are recorded by RoomStore.commit in the step that resolves the room (see its adapters);
 * this port is how delivery workers on any instance take them, one holder at a time:
 * a claim is a lease that ends on its own, so the crash of a holder only delays delivery.
 * Failures to reach the store throw StoreUnavailableError.
 */
export interface ResolutionOutbox {
  /**
   * Up to `max` deliveries that are due (new, retry time reached, or lease expired), each leased to
   * the caller for `leaseMs` and counted as one more attempt. No two callers hold one at a time.
   */
  claimDue(max: number, leaseMs: number): Promise<ClaimedDelivery[]>;
  /** The attempt succeeded: done for good. False when the lease was no longer the caller's. */
  delivered(claim: ClaimedDelivery): Promise<boolean>;
  /** The attempt failed: due again in `delayMs`. False when the lease was no longer the caller's. */
  retryLater(claim: ClaimedDelivery, delayMs: number, error: string): Promise<boolean>;
  /** Given up after the last attempt: kept as failed (listFailed) until requeued. */
  failed(claim: ClaimedDelivery, error: string): Promise<boolean>;
  /** Failed deliveries, the latest failure first. */
  listFailed(max: number): Promise<FailedDelivery[]>;
  /** Puts a failed delivery back to be delivered now, with its attempts counted from 0 again; false if no such failure. */
  requeue(key: string): Promise<boolean>;
  /** Deliveries still to be made (due or leased). */
  pendingCount(): Promise<number>;
}
