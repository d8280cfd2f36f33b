/** The SDK's agreement digest and webhook verification, as a TypeScript receiver uses them. */
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { agreementDigest as serverDigest } from '../../src/domain/agreement.js';
import { agreementDigest, canonicalAgreementJson } from '../../src/sdk/agreement.js';
import { digestMatches, ResolutionWebhookError, verifyResolutionWebhook } from '../../src/sdk/webhook.js';

const vector = {
  transactionId: 'tx-42',
  epoch: 'e1',
  version: 9,
  resolvedAt: '2026-12-02T10:00:00.000Z',
  selections: [
    { field: 'price', value: '45 000 ₱ "firm"', userId: 'bob' },
    { field: 'condition', value: 'Like New', userId: 'alice' },
  ],
  participants: [{ userId: 'bob' }, { userId: 'alice' }],
};
const secret = `whsec_${Buffer.from('a receiver secret of 32 bytes!!!').toString('base64')}`;

function signed(body: string, id = 'msg_1', at = new Date()) {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  };
}

describe('the SDK agreement digest', () => {
  it('gives the contract test vector, as the server does', async () => {
    expect(await agreementDigest(vector)).toBe('4f8b314bc7a852964be8efc16dea5c5858cc0ebd848af2cbdd87e2eb3ed43fea');
    expect(serverDigest(vector)).toBe(await agreementDigest(vector));
    const unicode = { ...vector, participants: [{ userId: '\u{1F600}' }, { userId: '\uFFFD' }, { userId: 'z' }] };
    expect(canonicalAgreementJson(unicode).endsWith('"participants":["z","\uFFFD","\u{1F600}"]}')).toBe(true);
    expect(await agreementDigest(unicode)).toBe(serverDigest(unicode));
  });
});

describe('verifyResolutionWebhook', () => {
  const event = { type: 'conflictRoom.resolved', timestamp: vector.resolvedAt, data: { ...vector, digest: '4f8b314bc7a852964be8efc16dea5c5858cc0ebd848af2cbdd87e2eb3ed43fea' } };
  const body = JSON.stringify(event);

  it('returns the body of a signed delivery, from plain headers, Node headers or a Headers object', async () => {
    const headers = signed(body);
    expect(verifyResolutionWebhook(body, headers, secret)).toEqual(event);
    const nodeStyle = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), [v]]));
    expect(verifyResolutionWebhook(new TextEncoder().encode(body), nodeStyle, secret)).toEqual(event);
    const parsed = verifyResolutionWebhook(body, new Headers(headers), secret);
    expect(await digestMatches(parsed as never)).toBe(true);
    expect(await digestMatches({ ...parsed, data: { ...parsed.data, version: 10 } })).toBe(false);
  });

  it('refuses a changed body, another secret, an old timestamp and another event type', () => {
    const headers = signed(body);
    const refusal = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        expect(error).toBeInstanceOf(ResolutionWebhookError);
        return (error as Error).message;
      }
      throw new Error('expected a refusal');
    };
    expect(refusal(() => verifyResolutionWebhook(body.replace('45 000', '4 000'), headers, secret))).toBe('the webhook does not verify: No matching signature found');
    expect(refusal(() => verifyResolutionWebhook(body, headers, `whsec_${Buffer.from('another').toString('base64')}`))).toBe(
      'the webhook does not verify: No matching signature found',
    );
    expect(refusal(() => verifyResolutionWebhook(body, signed(body, 'msg_1', new Date(Date.now() - 3_600_000)), secret))).toBe(
      'the webhook does not verify: Message timestamp too old',
    );
    const other = JSON.stringify({ type: 'something.else' });
    expect(refusal(() => verifyResolutionWebhook(other, signed(other), secret))).toBe('the webhook verifies but is not a conflictRoom.resolved event');
    expect(refusal(() => verifyResolutionWebhook(body, {}, secret))).toBe('the webhook does not verify: Missing required headers');
  });
});
