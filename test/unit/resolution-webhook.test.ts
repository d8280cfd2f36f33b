/** The delivery worker on the embedded outbox with a stand-in fetch: backoff, redirects, hand-back on stop. */
import { describe, expect, it } from 'vitest';
import { MemoryResolutionOutbox } from '../../src/adapters/memory-resolution-outbox.js';
import { ResolutionWebhookWorker, type ResolutionWebhookWorkerOptions, retryDelayMs } from '../../src/services/resolution-webhook.js';

const secret = `whsec_${Buffer.from('unit test secret').toString('base64')}`;
const record = { transactionId: 'tx-1', epoch: 'e1', webhookId: 'msg_abc', body: '{"type":"conflictRoom.resolved"}' };

interface Call {
  url: string;
  init: RequestInit;
}

function worker(outbox: MemoryResolutionOutbox, fetch: (call: Call) => Promise<Response>, extra: Partial<ResolutionWebhookWorkerOptions> = {}) {
  const calls: Call[] = [];
  const w = new ResolutionWebhookWorker({
    outbox,
    url: 'http://127.0.0.1:1/hook',
    secret,
    timeoutMs: 1000,
    retryBaseMs: 20,
    retryMaxMs: 1000,
    maxAttempts: 3,
    leaseMs: 60_000,
    pollMs: 10,
    fetch: ((url: string, init: RequestInit) => {
      const call = { url, init };
      calls.push(call);
      return fetch(call);
    }) as typeof globalThis.fetch,
    ...extra,
  });
  return { w, calls };
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within 5 s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('retryDelayMs', () => {
  it('doubles from the base and stops at the cap', () => {
    expect([1, 2, 3, 4, 9, 10, 60].map((n) => retryDelayMs(n, 1000, 300_000))).toEqual([1000, 2000, 4000, 8000, 256_000, 300_000, 300_000]);
  });
});

describe('ResolutionWebhookWorker', () => {
  it('treats a redirect as a failed attempt and never follows it; gives up after maxAttempts with the last error', async () => {
    const outbox = new MemoryResolutionOutbox();
    outbox.record(record);
    const { w, calls } = worker(outbox, async () => new Response(null, { status: 307, headers: { location: 'http://127.0.0.1:2/elsewhere' } }));
    w.start();
    try {
      await until(() => w.counters.failed === 1, 'the failure');
    } finally {
      await w.stop();
    }
    expect(calls.map((c) => [c.url, c.init.method, c.init.redirect])).toEqual(Array(3).fill(['http://127.0.0.1:1/hook', 'POST', 'manual']));
    const headers = calls.map((c) => c.init.headers as Record<string, string>);
    expect(headers.map((h) => [h['webhook-id'], h['content-type']])).toEqual(Array(3).fill(['msg_abc', 'application/json']));
    expect(headers.every((h) => /^v1,[A-Za-z0-9+/]+=*$/.test(h['webhook-signature'] ?? ''))).toBe(true);
    expect(calls.every((c) => c.init.body === record.body)).toBe(true);
    expect(w.counters).toEqual({ attempts: 3, delivered: 0, retried: 2, failed: 1 });
    expect((await outbox.listFailed(10)).map((f) => [f.webhookId, f.attempts, f.lastError])).toEqual([['msg_abc', 3, 'HTTP 307 (redirects are not followed)']]);
  });

  it('a stopping instance hands its attempt back at once: another instance delivers it without waiting for the lease', async () => {
    const outbox = new MemoryResolutionOutbox();
    outbox.record(record);
    const hung = worker(outbox, (call) => new Promise((_, reject) => call.init.signal?.addEventListener('abort', () => reject(new Error('aborted')))));
    hung.w.start();
    await until(() => hung.calls.length === 1, 'the first attempt');
    await hung.w.stop();
    const next = worker(outbox, async () => new Response('ok', { status: 200 }));
    next.w.start();
    try {
      await until(() => next.w.counters.delivered === 1, 'the delivery');
    } finally {
      await next.w.stop();
    }
    expect(next.calls.map((c) => (c.init.headers as Record<string, string>)['webhook-id'])).toEqual(['msg_abc']);
    expect(await outbox.pendingCount()).toBe(0);
    expect(hung.w.counters).toEqual({ attempts: 1, delivered: 0, retried: 0, failed: 0 });
  });

  it('times out an attempt that gets no answer', async () => {
    const outbox = new MemoryResolutionOutbox();
    outbox.record(record);
    const { w } = worker(
      outbox,
      (call) => new Promise((_, reject) => call.init.signal?.addEventListener('abort', () => reject(call.init.signal?.reason))),
      { timeoutMs: 30, maxAttempts: 1 },
    );
    w.start();
    try {
      await until(() => w.counters.failed === 1, 'the failure');
    } finally {
      await w.stop();
    }
    expect((await outbox.listFailed(1))[0]?.lastError).toBe('no answer within 30 ms');
  });
});
