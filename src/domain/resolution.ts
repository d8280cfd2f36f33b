/**
 * What a resolution sends to the marketplace's backend (SEMANTICS.md, "Resolution webhook"): the
 * body, byte for byte the same on every attempt, and the webhook id that names the resolution.
 * Pure: the store records exactly this in the step that resolves the room.
 */
import type { Agreement } from './agreement.js';
import type { RoomEvent } from './events.js';
import type { RoomState } from './room.js';

/** One resolution waiting for (or done with) delivery. */
export interface ResolutionRecord {
  transactionId: string;
  epoch: string;
  /** `webhook-id` of every attempt: the same for the whole life of the delivery. */
  webhookId: string;
  /** The JSON body, signed and sent as is. */
  body: string;
}

export const resolutionEventType = 'conflictRoom.resolved';

/**
 * Derived from the digest, so every instance that could record this resolution names it alike
 * (a commit decided twice after a conflict still records one id).
 */
export const webhookIdOf = (agreement: Agreement) => `msg_${agreement.digest.slice(0, 32)}`;

/** The body: the agreement's values in its orders, keys in the contract's order. */
export function resolutionBody(agreement: Agreement): string {
  const data = {
    transactionId: agreement.transactionId,
    epoch: agreement.epoch,
    version: agreement.version,
    resolvedAt: agreement.resolvedAt,
    digest: agreement.digest,
    selections: agreement.selections.map((s) => ({
      field: s.field,
      value: s.value,
      userId: s.userId,
      userName: s.userName,
      selectedAt: s.selectedAt,
      version: s.version,
    })),
    participants: agreement.participants.map((p) => ({ userId: p.userId, name: p.name, isReady: p.isReady, joinedAt: p.joinedAt })),
  };
  return JSON.stringify({ type: resolutionEventType, timestamp: agreement.resolvedAt, data });
}

/**
 * The resolution a commit makes, if any: the room after it has an agreement made by one of the
 * commit's own events. Stores call this in their commit, so a room cannot resolve unrecorded.
 */
export function resolutionOf(room: RoomState | null, events: readonly RoomEvent[]): ResolutionRecord | null {
  const agreement = room?.agreement;
  if (!agreement || !events.some((e) => e.type === 'RoomResolved' && e.version === agreement.version)) return null;
  return { transactionId: agreement.transactionId, epoch: agreement.epoch, webhookId: webhookIdOf(agreement), body: resolutionBody(agreement) };
}
