/**
 * For receivers of the resolution webhook written in TypeScript: `conflict-rooms/sdk/webhook`.
 * A separate entry point, so that the browser SDK does not carry the signature code.
 *
 *   import { verifyResolutionWebhook } from 'conflict-rooms/sdk/webhook';
 *   const event = verifyResolutionWebhook(rawBody, req.headers, process.env.RESOLUTION_WEBHOOK_SECRET);
 *   // event.data.digest, event.data.selections ...; dedupe on req.headers['webhook-id']
 */
import { Webhook } from 'standardwebhooks';
import { agreementDigest, canonicalAgreementJson, type AgreementValues } from './agreement.js';

export { agreementDigest, canonicalAgreementJson, type AgreementValues };

/** The body of every resolution webhook (SEMANTICS.md, "Resolution webhook"). */
export interface ResolutionWebhookEvent {
  type: 'conflictRoom.resolved';
  /** The resolution's instant (resolvedAt), ISO-8601. */
  timestamp: string;
  data: {
    transactionId: string;
    epoch: string;
    /** The RoomResolved event's version. */
    version: number;
    resolvedAt: string;
    digest: string;
    selections: Array<{ field: string; value: string; userId: string; userName: string; selectedAt: string; version: number }>;
    participants: Array<{ userId: string; name: string; isReady: boolean; joinedAt: string }>;
  };
}

export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

/** Thrown when the signature, the timestamp (5 minutes of tolerance) or the body's type is wrong. */
export class ResolutionWebhookError extends Error {
  override name = 'ResolutionWebhookError';
}

function header(headers: WebhookHeaders, name: string): string {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? '';
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}

/**
 * Verifies a delivery by the Standard Webhooks scheme (standardwebhooks' Webhook.verify) and returns
 * its body. `body` must be the raw bytes or text received, not a re-serialized object.
 * Deliveries are at least once: keep the `webhook-id` of those you processed and skip repeats.
 * @param secret the `whsec_…` secret shared with the service (RESOLUTION_WEBHOOK_SECRET).
 */
export function verifyResolutionWebhook(body: string | Uint8Array, headers: WebhookHeaders, secret: string): ResolutionWebhookEvent {
  const text = typeof body === 'string' ? body : new TextDecoder().decode(body);
  let payload: unknown;
  try {
    payload = new Webhook(secret).verify(text, {
      'webhook-id': header(headers, 'webhook-id'),
      'webhook-timestamp': header(headers, 'webhook-timestamp'),
      'webhook-signature': header(headers, 'webhook-signature'),
    });
  } catch (error) {
    throw new ResolutionWebhookError(`the webhook does not verify: ${(error as Error).message}`);
  }
  if ((payload as { type?: unknown } | null)?.type !== 'conflictRoom.resolved') {
    throw new ResolutionWebhookError('the webhook verifies but is not a conflictRoom.resolved event');
  }
  return payload as ResolutionWebhookEvent;
}

/** True when the body's digest is the one its values give: the agreement arrived whole. */
export async function digestMatches(event: ResolutionWebhookEvent): Promise<boolean> {
  return (await agreementDigest(event.data)) === event.data.digest;
}
