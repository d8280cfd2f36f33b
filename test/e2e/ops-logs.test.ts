/**
 * The log lines a real server writes (captured from its pino logger): one per failed operation with
 * the request id that came in (and went back out), one per connection opened and closed, and never a
 * token or a secret, on HTTP and graphql-ws, in jwt mode where the tokens are real.
 */
import { Writable } from 'node:stream';
import { createClient } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { eventually } from '../utils/clients.js';
import { JOIN, SELECT } from '../utils/operations.js';
import { hs256, testSecret } from '../utils/jwt.js';
import { cleanupsAfterEach } from '../utils/cleanups.js';

const cleanups = cleanupsAfterEach();

/** A real app whose log lines land in `lines`. */
async function loggedServer(env: Record<string, string>) {
  const lines: Array<Record<string, unknown>> = [];
  let raw = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      raw += chunk.toString();
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', RATE_LIMIT_PER_SECOND: '0', ...env });
  const app = await buildApp(config, createLogger('info', sink));
  const { url } = await app.start();
  cleanups.push(() => app.stop());
  return { url, wsUrl: url.replace(/^http/, 'ws'), lines, raw: () => raw };
}

describe('logs', () => {
  it('a failed operation: one line with the request id, its code, and no token', async () => {
    const server = await loggedServer({ AUTH_MODE: 'jwt', JWT_SECRET: testSecret });
    const token = await hs256({ sub: 'mallory', name: 'Mallory', transactions: ['tx-log'] });
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-request-id': 'req-log-1' },
      body: JSON.stringify({ query: SELECT, variables: { tx: 'tx-log', field: 'price', value: '1' } }),
    });
    expect(response.headers.get('x-request-id')).toBe('req-log-1');
    expect(((await response.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe('NOT_A_PARTICIPANT');

    const failed = server.lines.filter((l) => l['msg'] === 'operation failed');
    expect(failed).toEqual([
      expect.objectContaining({
        level: 30,
        requestId: 'req-log-1',
        operationName: 'Select',
        operationType: 'mutation',
        code: 'NOT_A_PARTICIPANT',
        errors: [{ message: 'Join the room (joinConflictRoom) before changing it.', code: 'NOT_A_PARTICIPANT', path: 'selectField' }],
      }),
    ]);
    expect(server.raw()).not.toContain(token);
    expect(server.raw()).not.toContain(testSecret);
  });

  it('graphql-ws: connection opened and closed lines, each operation with the socket id and its own, no token', async () => {
    const server = await loggedServer({ AUTH_MODE: 'jwt', JWT_SECRET: testSecret });
    const token = await hs256({ sub: 'alice', name: 'Alice', transactions: ['tx-ws-log'] });
    const client = createClient({
      url: server.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      lazy: false,
    });
    cleanups.push(async () => client.dispose());
    const run = (query: string, variables: Record<string, unknown>) =>
      new Promise<unknown>((resolve, reject) => {
        let result: unknown;
        client.subscribe({ query, variables }, { next: (r) => (result = r), error: reject, complete: () => resolve(result) });
      });
    await run(JOIN, { tx: 'tx-ws-log' });
    await run(SELECT, { tx: 'other-tx', field: 'price', value: '1' });
    await client.dispose();
    await eventually(() => server.lines.some((l) => l['msg'] === 'connection closed'), 5000, 'a connection closed line');

    const opened = server.lines.filter((l) => l['msg'] === 'connection opened');
    const closed = server.lines.filter((l) => l['msg'] === 'connection closed');
    expect(opened).toEqual([expect.objectContaining({ transport: 'websocket', requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) })]);
    const socketId = opened[0]!['requestId'] as string;
    expect(closed).toEqual([expect.objectContaining({ transport: 'websocket', requestId: socketId, code: 1000, durationMs: expect.any(Number) })]);
    const failed = server.lines.filter((l) => l['msg'] === 'operation failed');
    expect(failed).toEqual([expect.objectContaining({ code: 'FORBIDDEN', operationName: 'Select', requestId: expect.stringMatching(new RegExp(`^${socketId}/`)) })]);
    expect(server.raw()).not.toContain(token);
  });

  it('the logger redacts credentials and secrets wherever they sit', () => {
    let raw = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        raw += chunk.toString();
        done();
      },
    });
    const logger = createLogger('info', sink);
    logger.info(
      {
        req: { headers: { authorization: 'Bearer header-token', cookie: 'sid=cookie-value', 'x-user-id': 'alice' } },
        connectionParams: { authorization: 'Bearer ws-token', userId: 'alice' },
        env: { JWT_SECRET: 'jwt-secret-value', RESOLUTION_WEBHOOK_SECRET: 'whsec_value', REDIS_URL: 'redis://:pw@host' },
        config: { jwt: { secret: 'config-secret' } },
        token: 'bare-token',
      },
      'everything secret',
    );
    for (const secret of ['header-token', 'cookie-value', 'ws-token', 'jwt-secret-value', 'whsec_value', 'redis://:pw@host', 'config-secret', 'bare-token']) {
      expect(raw).not.toContain(secret);
    }
    const line = JSON.parse(raw) as Record<string, any>;
    expect(line['req'].headers).toEqual({ authorization: '[redacted]', cookie: '[redacted]', 'x-user-id': 'alice' });
    expect(line['connectionParams']).toEqual({ authorization: '[redacted]', userId: 'alice' });
  });
});
