/**
 * The resolution webhook end to end: real servers (and a real instance process to SIGKILL), a real
 * receiver on 127.0.0.1 that verifies every request with standardwebhooks' Webhook.verify.
 * Delivered at least once, accepted exactly once, one holder at a time, failed after the last attempt.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { mutate } from '../utils/clients.js';
import { startInstanceProcess } from '../utils/instance-process.js';
import { JOIN, SELECT, SET_READY } from '../utils/operations.js';
import { deletePrefix, startServer, type TestServer, testPrefix } from '../utils/server.js';
import { type Answer, type ReceivedWebhook, startWebhookReceiver, testWebhookSecret, type WebhookReceiver } from '../utils/webhook-receiver.js';
import { cleanupsAfterEach } from '../utils/cleanups.js';

const alice = { userId: 'alice', userName: 'Alice' };
const bob = { userId: 'bob', userName: 'Bob' };

const cleanups = cleanupsAfterEach();

async function receiver(plan?: (n: number) => Answer, port?: number): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver(plan, port);
  cleanups.push(() => r.stop());
  return r;
}

async function server(env: Record<string, string>): Promise<TestServer> {
  const s = await startServer(env);
  cleanups.push(() => s.stop());
  return s;
}

/** Fresh Redis key prefix for one test, deleted after it. */
function redisEnv(): Record<string, string> {
  const redisUrl = inject('redisUrl');
  const prefix = testPrefix('webhook');
  cleanups.push(() => deletePrefix(redisUrl, prefix));
  return { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix };
}

const webhookEnv = (url: string, extra: Record<string, string> = {}) => ({
  RESOLUTION_WEBHOOK_URL: url,
  RESOLUTION_WEBHOOK_SECRET: testWebhookSecret,
  RESOLUTION_WEBHOOK_RETRY_BASE_MS: '100',
  ...extra,
});

interface ResolvedRoom {
  version: number;
  epoch: string;
  resolvedAt: string;
  agreement: { digest: string };
}
const RESOLVE_FIELDS = 'version epoch resolvedAt agreement { digest }';

/** Two parties agree on two fields; resolves to the room as setReady returned it. */
async function resolveRoom(url: string, tx: string): Promise<ResolvedRoom> {
  await mutate(url, alice, JOIN, { tx });
  await mutate(url, bob, JOIN, { tx });
  await mutate(url, alice, SELECT, { tx, field: 'price', value: '45 000 ₱ "firm"' });
  await mutate(url, bob, SELECT, { tx, field: 'condition', value: 'Like New' });
  await mutate(url, alice, SET_READY, { tx, ready: true });
  const query = `mutation R($tx: ID!) { setReady(transactionId: $tx, isReady: true) { status ${RESOLVE_FIELDS} } }`;
  const { setReady } = await mutate<{ setReady: ResolvedRoom & { status: string } }>(url, bob, query, { tx });
  expect(setReady.status).toBe('RESOLVED');
  return setReady;
}

const verifiedPayload = (request: ReceivedWebhook) => {
  if (!request.verified.ok) throw new Error(`the signature did not verify: ${request.verified.error}`);
  return request.verified.payload as { type: string; timestamp: string; data: Record<string, unknown> };
};

describe('the resolution webhook', () => {
  it('one resolution, one accepted delivery: the contract body, signed, with a digest the test recomputes (embedded store)', async () => {
    const hook = await receiver();
    const s = await server(webhookEnv(hook.url));
    const room = await resolveRoom(s.url, 'wh-1');
    const [request] = await hook.waitFor(1);
    const payload = verifiedPayload(request!);
    expect(request!.contentType).toBe('application/json');
    expect(request!.id).toBe(`msg_${room.agreement.digest.slice(0, 32)}`);
    expect(Math.abs(request!.timestamp - Date.now() / 1000)).toBeLessThan(60);
    expect(Object.keys(payload)).toEqual(['type', 'timestamp', 'data']);
    expect(payload).toEqual({
      type: 'conflictRoom.resolved',
      timestamp: room.resolvedAt,
      data: {
        transactionId: 'wh-1',
        epoch: room.epoch,
        version: 7,
        resolvedAt: room.resolvedAt,
        digest: room.agreement.digest,
        selections: [
          { field: 'condition', value: 'Like New', userId: 'bob', userName: 'Bob', selectedAt: expect.any(String), version: 4 },
          { field: 'price', value: '45 000 ₱ "firm"', userId: 'alice', userName: 'Alice', selectedAt: expect.any(String), version: 3 },
        ],
        participants: [
          { userId: 'alice', name: 'Alice', isReady: true, joinedAt: expect.any(String) },
          { userId: 'bob', name: 'Bob', isReady: true, joinedAt: expect.any(String) },
        ],
      },
    });
    const data = payload.data as { selections: Array<{ field: string; value: string; userId: string }>; participants: Array<{ userId: string }> };
    const canonical = JSON.stringify({
      transactionId: 'wh-1',
      epoch: room.epoch,
      version: 7,
      resolvedAt: room.resolvedAt,
      selections: data.selections.map(({ field, value, userId }) => ({ field, value, userId })),
      participants: data.participants.map((p) => p.userId).sort(),
    });
    expect(createHash('sha256').update(canonical, 'utf8').digest('hex')).toBe(room.agreement.digest);
    // A few polls later: still exactly one request, accepted.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(hook.received.map((r) => r.status)).toEqual([200]);
    expect(s.app.webhooks?.counters()).toEqual({ attempts: 1, delivered: 1, retried: 0, failed: 0 });
  });

  it('a receiver that answers 500 twice, then 200: three attempts with the same id, one accepted', async () => {
    const hook = await receiver((n) => (n < 2 ? 500 : 200));
    const s = await server({ ...redisEnv(), ...webhookEnv(hook.url) });
    await resolveRoom(s.url, 'wh-2');
    const requests = await hook.waitFor(3);
    expect(requests.map((r) => [r.status, r.verified.ok])).toEqual([
      [500, true],
      [500, true],
      [200, true],
    ]);
    expect(new Set(requests.map((r) => r.id)).size).toBe(1);
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(hook.accepted()).toHaveLength(1);
    expect(hook.received).toHaveLength(3);
    expect(s.app.webhooks?.counters()).toEqual({ attempts: 3, delivered: 1, retried: 2, failed: 0 });
  });

  it('two instances, five resolutions: one accepted delivery each, not two', async () => {
    const hook = await receiver();
    const env = { ...redisEnv(), ...webhookEnv(hook.url) };
    const a = await server(env);
    const b = await server(env);
    const rooms = [];
    for (let i = 1; i <= 5; i++) rooms.push(await resolveRoom((i % 2 ? a : b).url, `wh-3-${i}`));
    await hook.waitFor(5);
    // Both instances poll every 50 ms: give them many rounds to deliver anything twice.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(hook.received).toHaveLength(5);
    expect(hook.received.every((r) => r.verified.ok && r.status === 200)).toBe(true);
    expect(hook.received.map((r) => r.id).sort()).toEqual(rooms.map((r) => `msg_${r.agreement.digest.slice(0, 32)}`).sort());
    const delivered = [a, b].map((s) => s.app.webhooks!.counters().delivered);
    expect(delivered[0]! + delivered[1]!).toBe(5);
  });

  it('the delivering instance is SIGKILLed while the receiver does not answer: a survivor delivers after the lease', async () => {
    // The first request hangs (its holder is killed holding the lease); every later one is answered.
    const hook = await receiver((n) => (n === 0 ? 'hang' : 200));
    const env = { ...redisEnv(), ...webhookEnv(hook.url, { RESOLUTION_WEBHOOK_LEASE_MS: '1500', RESOLUTION_WEBHOOK_TIMEOUT_MS: '400' }) };
    const doomed = await startInstanceProcess(env);
    cleanups.push(() => doomed.kill());
    const room = await resolveRoom(doomed.url, 'wh-4');
    await hook.waitFor(1);
    // Started now, so that the doomed instance is the one holding the delivery.
    const survivor = await server(env);
    await doomed.kill();
    const killedAt = Date.now();
    const [first, second] = await hook.waitFor(2, 15_000);
    console.log(`webhook: delivered by the survivor ${Date.now() - killedAt} ms after SIGKILL (lease 1500 ms)`);
    expect([first!.status, second!.status]).toEqual([null, 200]);
    expect(second!.verified.ok).toBe(true);
    expect(second!.id).toBe(first!.id);
    expect(second!.id).toBe(`msg_${room.agreement.digest.slice(0, 32)}`);
    expect(second!.body).toBe(first!.body);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(hook.accepted()).toHaveLength(1);
    expect(survivor.app.webhooks?.counters()).toMatchObject({ delivered: 1, failed: 0 });
  }, 40_000);

  it('a receiver that never succeeds (a redirect, an error, no answer): failed after the configured attempts, listed, logged, counted', async () => {
    const elsewhere = await receiver();
    const plan: Answer[] = [{ redirect: elsewhere.url }, 503, 'hang'];
    const hook = await receiver((n) => plan[n] ?? 500);
    const redis = redisEnv();
    const s = await server({
      ...redis,
      ...webhookEnv(hook.url, { RESOLUTION_WEBHOOK_MAX_ATTEMPTS: '3', RESOLUTION_WEBHOOK_TIMEOUT_MS: '300', RESOLUTION_WEBHOOK_RETRY_BASE_MS: '50' }),
    });
    const room = await resolveRoom(s.url, 'wh-5');
    const requests = await hook.waitFor(3);
    expect(requests.every((r) => r.verified.ok && r.id === requests[0]!.id)).toBe(true);
    const webhooks = s.app.webhooks!;
    const deadline = Date.now() + 10_000;
    while (webhooks.counters().failed === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(webhooks.counters()).toEqual({ attempts: 3, delivered: 0, retried: 2, failed: 1 });
    expect(await webhooks.failed()).toEqual([
      {
        key: JSON.stringify(['wh-5', room.epoch]),
        transactionId: 'wh-5',
        epoch: room.epoch,
        webhookId: `msg_${room.agreement.digest.slice(0, 32)}`,
        attempts: 3,
        failedAt: expect.any(String),
        lastError: 'no answer within 300 ms',
      },
    ]);
    // What an operator runs: `npm run webhooks -- failed`, then `retry <key>`.
    const cli = (...args: string[]) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/webhooks.ts', ...args], { env: { PATH: process.env.PATH ?? '', ...redis } });
    const listed = (await cli('failed')).stdout.trim().split('\n').map((line) => JSON.parse(line) as { key: string; attempts: number });
    expect(listed.map((f) => [f.key, f.attempts])).toEqual([[JSON.stringify(['wh-5', room.epoch]), 3]]);
    expect((await cli('retry', listed[0]!.key)).stdout.trim()).toBe(`requeued ${listed[0]!.key}`);
    // Requeued: delivered again from attempt 1 (this receiver still fails it: 500 from now on).
    await hook.waitFor(4);
    expect(await webhooks.failed()).toEqual([]);
    await s.stop();
    // Never more than the configured attempts, and the redirect was not followed.
    expect(hook.received.length).toBeLessThanOrEqual(6);
    expect(elsewhere.received).toHaveLength(0);
  });
});
