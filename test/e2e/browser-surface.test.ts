/**
 * Issue 8, what a browser page can reach: GraphiQL built once and served with caching and security
 * headers, CSRF (form and multipart posts run nothing), CORS and WebSocket origins from CORS_ORIGINS,
 * and the developer surfaces off when configured so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { post } from '../utils/clients.js';
import { JOIN, ROOM_QUERY } from '../utils/operations.js';
import { rawRequest } from '../utils/raw-http.js';
import { startServer, type TestServer } from '../utils/server.js';

const allowed = 'https://app.example.com';
let server: TestServer;
beforeAll(async () => {
  server = await startServer({ CORS_ORIGINS: allowed });
});
afterAll(async () => {
  await server?.stop();
});

const page = (url: string, headers: Record<string, string> = {}) => rawRequest(url, { headers: { accept: 'text/html', ...headers } });

describe('GraphiQL', () => {
  it('is built once: two loads give the same ETag and body, with caching and security headers', async () => {
    const first = await page(server.url);
    const second = await page(server.url);
    expect(first.status).toBe(200);
    expect(first.text).toContain('<title>conflict-rooms</title>');
    expect(second.text).toBe(first.text);
    expect(first.headers.etag).toMatch(/^"[A-Za-z0-9_-]{32}"$/);
    expect(second.headers.etag).toBe(first.headers.etag);
    for (const response of [first, second]) {
      expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(response.headers['cache-control']).toBe('no-cache');
      expect(response.headers['x-frame-options']).toBe('DENY');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['content-security-policy']).toMatch(/^default-src 'self'; .*frame-ancestors 'none'/);
    }
  });

  it('answers 304 with no body to a matching If-None-Match, 200 to a stale one', async () => {
    const { headers } = await page(server.url);
    const etag = headers.etag as string;
    const cached = await page(server.url, { 'if-none-match': etag });
    expect(cached.status).toBe(304);
    expect(cached.text).toBe('');
    expect(cached.headers.etag).toBe(etag);
    expect(cached.headers['x-frame-options']).toBe('DENY');
    expect((await page(server.url, { 'if-none-match': '"stale"' })).status).toBe(200);
  });

  it('is not served where GRAPHIQL=false', async () => {
    const off = await startServer({ GRAPHIQL: 'false' });
    try {
      // Nothing here answers text/html: yoga says which media types it can give instead.
      const response = await page(off.url);
      expect(response.status).toBe(406);
      expect(response.text).toBe('');
    } finally {
      await off.stop();
    }
  });
});

describe('CSRF: only JSON bodies, and GETs that passed a preflight', () => {
  const mutation = 'mutation { joinConflictRoom(transactionId: "csrf-1", userName: "Mallory") { version } }';

  it('form-urlencoded, multipart and text/plain POSTs are refused with 415 and write nothing', async () => {
    const form = new URLSearchParams({ query: mutation }).toString();
    const boundary = 'x1x2x3';
    const multipart = `--${boundary}\r\ncontent-disposition: form-data; name="operations"\r\n\r\n${JSON.stringify({ query: mutation })}\r\n--${boundary}--\r\n`;
    const bodies: Array<[string, string]> = [
      ['application/x-www-form-urlencoded', form],
      [`multipart/form-data; boundary=${boundary}`, multipart],
      ['text/plain', JSON.stringify({ query: mutation })],
    ];
    for (const [type, body] of bodies) {
      const response = await rawRequest(server.url, { method: 'POST', headers: { 'content-type': type, 'x-user-id': 'mallory' }, body });
      expect(response.status, type).toBe(415);
      expect(response.json).toEqual({
        errors: [{ message: 'POST bodies must be JSON: send content-type application/json.', extensions: { code: 'BAD_USER_INPUT', reason: 'UNSUPPORTED_MEDIA_TYPE' } }],
      });
    }
    const room = await post<{ conflictRoom: { version: number; participants: unknown[] } }>(server.url, { userId: 'alice' }, ROOM_QUERY, { tx: 'csrf-1' });
    expect(room.data?.conflictRoom).toMatchObject({ version: 0, participants: [] });
  });

  it('a GET subscription or stream with no non-simple header is refused with 403; with x-user-id (as urql sends) it runs', async () => {
    const subscription = `${server.url}?query=${encodeURIComponent('subscription { conflictRoomEvents(transactionId: "csrf-1") { version } }')}`;
    for (const headers of [{}, { accept: 'text/event-stream' }] as Array<Record<string, string>>) {
      const simple = await rawRequest(subscription, { headers });
      expect(simple.status).toBe(403);
      // A stream's refusal comes as an event; a plain one as JSON.
      if (!headers.accept) expect(simple.json).toEqual({ errors: [{ message: 'Required CSRF header(s) not present', extensions: { code: 'BAD_USER_INPUT' } }] });
    }
    const url = `${server.url}?query=${encodeURIComponent('{ __typename }')}`;
    const stream = await rawRequest(url, { headers: { accept: 'text/event-stream' } });
    expect(stream.status).toBe(403);
    expect((await rawRequest(url, { headers: { 'x-user-id': 'alice' } })).json).toEqual({ data: { __typename: 'Query' } });
    expect((await rawRequest(url, { headers: { 'x-graphql-yoga-csrf': '1' } })).json).toEqual({ data: { __typename: 'Query' } });
  });

  it('a GET whose variables or extensions are not a JSON object gets 400 BAD_USER_INPUT, not a bare 500', async () => {
    for (const [name, value] of [['variables', '{'], ['extensions', '['], ['variables', '5']] as const) {
      const response = await rawRequest(`${server.url}?query=${encodeURIComponent('{ __typename }')}&${name}=${encodeURIComponent(value)}`, { headers: { 'x-user-id': 'a' } });
      expect(response.status, `${name}=${value}`).toBe(400);
      expect(response.json).toMatchObject({ errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] });
    }
  });

  it('a read-only GET (a query, not a stream) needs no header: it can only read, and other origins cannot read the answer', async () => {
    const url = `${server.url}?query=${encodeURIComponent('{ __typename }')}`;
    expect((await rawRequest(url)).json).toEqual({ data: { __typename: 'Query' } });
    const mutation = `${server.url}?query=${encodeURIComponent('mutation { joinConflictRoom(transactionId: "csrf-get") { version } }')}`;
    const refused = await rawRequest(mutation, { headers: { 'x-user-id': 'mallory' } });
    expect(refused.status).toBe(405);
    const room = await post<{ conflictRoom: { version: number } }>(server.url, { userId: 'alice' }, ROOM_QUERY, { tx: 'csrf-get' });
    expect(room.data?.conflictRoom.version).toBe(0);
  });
});

describe('CORS and WebSocket origins (CORS_ORIGINS)', () => {
  const body = JSON.stringify({ query: '{ __typename }' });

  it('an allowed origin is echoed without credentials; another origin gets no CORS headers', async () => {
    const ok = await rawRequest(server.url, { method: 'POST', headers: { 'content-type': 'application/json', origin: allowed }, body });
    expect(ok.headers['access-control-allow-origin']).toBe(allowed);
    expect(ok.headers['access-control-allow-credentials']).toBeUndefined();
    const evil = await rawRequest(server.url, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://evil.example' }, body });
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    expect(evil.headers['access-control-allow-credentials']).toBeUndefined();
    const preflight = await rawRequest(server.url, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-user-id' },
    });
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
  });

  /** The HTTP status of a refused upgrade, or "open". */
  const upgrade = (headers: Record<string, string>) =>
    new Promise<number | 'open'>((resolve, reject) => {
      const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws', { headers });
      socket.on('open', () => {
        socket.close();
        resolve('open');
      });
      socket.on('unexpected-response', (_request, response) => {
        resolve(response.statusCode ?? 0);
        response.resume();
        socket.terminate();
      });
      socket.on('error', (error) => (error.message.includes('Unexpected server response') ? undefined : reject(error)));
    });

  it('a WebSocket upgrade from a disallowed Origin is refused with 403; allowed or absent Origin opens', async () => {
    expect(await upgrade({ origin: 'https://evil.example' })).toBe(403);
    expect(await upgrade({ origin: allowed })).toBe('open');
    expect(await upgrade({})).toBe('open');
  });

  it('an origin missing from the list gets no CORS headers (production, CORS_ORIGINS unset, has an empty list)', async () => {
    const none = await startServer({ CORS_ORIGINS: 'https://only.example' });
    try {
      const response = await rawRequest(none.url, { method: 'POST', headers: { 'content-type': 'application/json', origin: allowed }, body });
      expect(response.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await none.stop();
    }
  });
});

describe('introspection and field suggestions, when off', () => {
  it('refuses __schema and hides "Did you mean"', async () => {
    const off = await startServer({ INTROSPECTION: 'false', FIELD_SUGGESTIONS: 'false' });
    try {
      const schema = await post(off.url, null, '{ __schema { queryType { name } } }');
      expect(schema.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(schema.errors?.[0]?.message).toMatch(/introspection/i);
      const typo = await post(off.url, null, '{ conflictRom(transactionId: "t") { version } }');
      expect(typo.errors?.[0]?.message).toBe('Cannot query field "conflictRom" on type "Query".');
      const onAgain = await post(server.url, null, '{ conflictRom(transactionId: "t") { version } }');
      expect(onAgain.errors?.[0]?.message).toBe('Cannot query field "conflictRom" on type "Query". Did you mean "conflictRoom"?');
      // Joining still works with the surfaces off.
      expect((await post(off.url, { userId: 'alice' }, JOIN, { tx: 'intro-1' })).errors).toBeUndefined();
    } finally {
      await off.stop();
    }
  });
});
