/**
 * A real webhook receiver on 127.0.0.1 for tests: it verifies every request with standardwebhooks'
 * Webhook.verify, records it, and answers as the test's plan says (a status, a redirect, or no answer).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** Any Standard Webhooks secret: `whsec_` + base64 of the key bytes. */
export const testWebhookSecret = `whsec_${Buffer.from('conflict-rooms test secret, 32 b').toString('base64')}`;

export interface ReceivedWebhook {
  id: string;
  timestamp: number;
  body: string;
  contentType: string;
  /** What Webhook.verify made of it: the parsed body, or the error's message. */
  verified: { ok: true; payload: unknown } | { ok: false; error: string };
  /** The status answered; null when it was not answered. */
  status: number | null;
}

export type Answer = number | { redirect: string } | 'hang';

export interface WebhookReceiver {
  url: string;
  port: number;
  received: ReceivedWebhook[];
  /** Resolves with the first `count` requests; rejects after timeoutMs, so a missing delivery fails the test. */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  /** Requests answered 2xx. */
  accepted(): ReceivedWebhook[];
  stop(): Promise<void>;
}

/**
 * @param plan the answer to the n-th request (from 0); default 200.
 * @param port listen on this port (e.g. one reserved earlier); default any free one.
 */
export async function startWebhookReceiver(plan: (n: number) => Answer = () => 200, port = 0): Promise<WebhookReceiver> {
  const verifier = new Webhook(testWebhookSecret);
  const received: ReceivedWebhook[] = [];
  const hanging = new Set<ServerResponse>();
  let waiters: Array<() => void> = [];
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const header = (name: string) => String(req.headers[name] ?? '');
    let verified: ReceivedWebhook['verified'];
    try {
      verified = { ok: true, payload: verifier.verify(body, { 'webhook-id': header('webhook-id'), 'webhook-timestamp': header('webhook-timestamp'), 'webhook-signature': header('webhook-signature') }) };
    } catch (error) {
      verified = { ok: false, error: (error as Error).message };
    }
    const answer = plan(received.length);
    const record: ReceivedWebhook = {
      id: header('webhook-id'),
      timestamp: Number(header('webhook-timestamp')),
      body,
      contentType: header('content-type'),
      verified,
      status: typeof answer === 'number' ? answer : answer === 'hang' ? null : 302,
    };
    received.push(record);
    for (const wake of waiters) wake();
    if (answer === 'hang') {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
    } else if (typeof answer === 'number') {
      res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer < 300 ? 'ok' : 'no');
    } else {
      res.writeHead(302, { location: answer.redirect }).end();
    }
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}/hooks/resolved`,
    port: actual,
    received,
    accepted: () => received.filter((r) => r.status !== null && r.status >= 200 && r.status < 300),
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${count} webhook request(s) within ${timeoutMs} ms, got ${received.length}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        waiters = [];
      }
      return received.slice(0, count);
    },
    async stop() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
