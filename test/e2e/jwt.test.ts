/**
 * AUTH_MODE=jwt through every transport (HTTP, SSE, graphql-ws), with real tokens signed here: who may
 * call, as whom, which rooms, and what a refused caller learns (nothing of the room).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createClient as createSseClient } from 'graphql-sse';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Subscription } from '../utils/clients.js';
import { hs256, testSecret } from '../utils/jwt.js';
import { EVENTS, JOIN, LEAVE, ROOM_QUERY, SELECT, SET_READY, CLEAR, type EventsResult, type RoomData } from '../utils/operations.js';
import { startServer, type TestServer } from '../utils/server.js';

let server: TestServer;
const sockets: Client[] = [];

beforeAll(async () => {
  // No clock skew, so that expiry tests need not wait for it.
  server = await startServer({ AUTH_MODE: 'jwt', JWT_SECRET: testSecret, JWT_CLOCK_SKEW_S: '0' });
});
afterAll(async () => {
  await Promise.all(sockets.map((s) => s.dispose()));
  await server?.stop();
});

type Result<T = Record<string, any>> = { data?: T | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };

async function http<T = Record<string, any>>(headers: Record<string, string>, query: string, variables: Record<string, unknown> = {}): Promise<Result<T>> {
  const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
  return (await response.json()) as Result<T>;
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const as = async (sub: string, transactions: unknown = ['*'], extra: Record<string, unknown> = {}) => bearer(await hs256({ sub, transactions, ...extra }));
const code = (result: Result) => result.errors?.[0]?.extensions?.['code'];

function ws(connectionParams: Record<string, unknown> | (() => Promise<Record<string, unknown>>), retryAttempts = 0): Client {
  const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, connectionParams, retryAttempts, lazy: true });
  sockets.push(client);
  return client;
}

/** Runs one operation over a socket: its result, or how the socket failed ({ close, reason }). */
function wsRun(client: Client, query: string, variables: Record<string, unknown> = {}): Promise<Result | { close: number; reason: string }> {
  return new Promise((resolve) => {
    client.subscribe(
      { query, variables },
      {
        next: (result) => resolve(result as Result),
        error: (error) => resolve({ close: (error as { code: number }).code, reason: (error as { reason: string }).reason }),
        complete: () => undefined,
      },
    );
  });
}

describe('HTTP', () => {
  it('acts as the token\'s sub, with its name, and ignores the development headers', async () => {
    const headers = { ...(await as('buyer-1', ['jwt-h1'], { name: 'Bea Buyer' })), 'x-user-id': 'mallory', 'x-user-name': 'Mallory' };
    const joined = await http<{ joinConflictRoom: RoomData }>(headers, `mutation { joinConflictRoom(transactionId: "jwt-h1") { participants { userId name } } }`);
    expect(joined).toEqual({ data: { joinConflictRoom: { participants: [{ userId: 'buyer-1', name: 'Bea Buyer' }] } } });
    // The development headers alone are nobody in jwt mode.
    const devOnly = await http({ 'x-user-id': 'buyer-1' }, ROOM_QUERY, { tx: 'jwt-h1' });
    expect(devOnly.data ?? null).toBeNull();
    expect(devOnly.errors).toEqual([
      { message: 'Send a JWT: send the header Authorization: Bearer <token>.', path: ['conflictRoom'], extensions: { code: 'UNAUTHENTICATED' } },
    ]);
  });

  it('`npm run token` mints a token the service accepts (the local-testing recipe in SECURITY.md)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/mint-token.ts', '--sub', 'cli-user', '--name', 'Cli', '--tx', 'jwt-cli'], {
      env: { ...process.env, JWT_SECRET: testSecret },
    });
    const joined = await http<{ joinConflictRoom: RoomData }>(bearer(stdout.trim()), JOIN, { tx: 'jwt-cli' });
    expect(joined.data?.joinConflictRoom.participants.map((p) => [p.userId, p.name])).toEqual([['cli-user', 'Cli']]);
    expect(code(await http(bearer(stdout.trim()), ROOM_QUERY, { tx: 'jwt-other' }))).toBe('FORBIDDEN');
  });

  it('refuses a bad, expired, not-yet-valid, unsigned or exp-less token with UNAUTHENTICATED, saying why', async () => {
    const cases: Array<[string, Record<string, string>, string]> = [
      ['another secret', bearer(await hs256({ sub: 'u', transactions: ['*'] }, 'another-secret-that-is-32-characters-long')), 'The token signature does not verify.'],
      ['expired', bearer(await hs256({ sub: 'u', transactions: ['*'], expiresIn: -10 })), 'The token has expired: get a new one.'],
      ['not yet valid', bearer(await hs256({ sub: 'u', transactions: ['*'], notBeforeIn: 60 })), 'The token is not valid yet (nbf).'],
      ['no exp', bearer(await hs256({ sub: 'u', transactions: ['*'], expiresIn: null })), 'The token\'s "exp" claim is missing or invalid.'],
      ['no sub', bearer(await hs256({ transactions: ['*'] })), 'The token\'s "sub" claim is missing or invalid.'],
      ['alg none', bearer(`${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"u","exp":9999999999}').toString('base64url')}.`), 'The token is signed with an algorithm this service does not accept.'],
      ['garbage', bearer('not-a-jwt'), 'The token is malformed.'],
      ['9,000 characters', bearer('e'.repeat(9000)), 'The token is too long.'],
      ['Basic scheme', { authorization: 'Basic dTpw' }, 'The Authorization header must be "Bearer <token>".'],
    ];
    for (const [what, headers, message] of cases) {
      const result = await http(headers, SELECT, { tx: 'jwt-h2', field: 'price', value: '1' });
      expect({ what, data: result.data ?? null, code: code(result), message: result.errors?.[0]?.message }).toEqual({ what, data: null, code: 'UNAUTHENTICATED', message });
    }
  });

  it('a transaction the token does not grant is FORBIDDEN for every operation, the same whether the room exists or not, and nothing is written', async () => {
    const owner = await as('seller-1', ['jwt-secret-room']);
    await http(owner, JOIN, { tx: 'jwt-secret-room' });
    await http(owner, SELECT, { tx: 'jwt-secret-room', field: 'price', value: '45000' });
    const before = await http<{ conflictRoom: RoomData }>(owner, ROOM_QUERY, { tx: 'jwt-secret-room' });

    const outsider = await as('mallory', ['jwt-other']);
    const noClaim = bearer(await hs256({ sub: 'mallory' })); // no transactions claim: grants nothing
    const operations: Array<[string, Record<string, unknown>]> = [
      [ROOM_QUERY, {}],
      [`query H($tx: ID!) { conflictRoomHistory(transactionId: $tx) { events { version } } }`, {}],
      [JOIN, {}],
      [SELECT, { field: 'price', value: '1' }],
      [CLEAR, { field: 'price' }],
      [SET_READY, { ready: true }],
      [LEAVE, {}],
    ];
    for (const headers of [outsider, noClaim]) {
      for (const [query, variables] of operations) {
        const existing = await http(headers, query, { tx: 'jwt-secret-room', ...variables });
        const missing = await http(headers, query, { tx: 'jwt-nowhere-room', ...variables });
        expect(code(existing)).toBe('FORBIDDEN');
        expect(existing.data ?? null).toBeNull();
        // Byte for byte the same answer, but for the id the caller sent.
        expect(JSON.stringify(missing).replaceAll('jwt-nowhere-room', 'X')).toBe(JSON.stringify(existing).replaceAll('jwt-secret-room', 'X'));
      }
    }
    expect(await http(owner, ROOM_QUERY, { tx: 'jwt-secret-room' })).toEqual(before);
  });
});

describe('graphql-ws', () => {
  it('refuses a socket without a valid token at connection_init with 4403, before any operation; development connectionParams count for nothing', async () => {
    const expired = await hs256({ sub: 'u', transactions: ['*'], expiresIn: -5 });
    const cases: Array<[Record<string, unknown>, string]> = [
      [{}, 'UNAUTHENTICATED: Send a JWT: send connectionParams { authorization: "Bearer <token>" }.'],
      [{ userId: 'alice', userName: 'Alice' }, 'UNAUTHENTICATED: Send a JWT: send connectionParams { authorization: "Bearer <token>" }.'],
      [{ authorization: `Bearer ${expired}` }, 'UNAUTHENTICATED: The token has expired: get a new one.'],
      [{ authorization: expired }, 'UNAUTHENTICATED: connectionParams.authorization must be "Bearer <token>".'],
    ];
    for (const [params, reason] of cases) {
      expect(await wsRun(ws(params), ROOM_QUERY, { tx: 'jwt-w1' })).toEqual({ close: 4403, reason });
    }
  });

  it('acts as the token\'s sub; FORBIDDEN rooms reveal nothing over the socket either', async () => {
    const client = ws({ authorization: `Bearer ${await hs256({ sub: 'agent-9', name: 'Agent', transactions: ['jwt-w2'] })}` });
    const joined = (await wsRun(client, JOIN, { tx: 'jwt-w2' })) as Result<{ joinConflictRoom: RoomData }>;
    expect(joined.data?.joinConflictRoom.participants.map((p) => [p.userId, p.name])).toEqual([['agent-9', 'Agent']]);
    await http(await as('seller-2', ['jwt-w2-private']), JOIN, { tx: 'jwt-w2-private' });
    for (const query of [ROOM_QUERY, SELECT, EVENTS]) {
      const variables = query === SELECT ? { field: 'f', value: 'v' } : {};
      const existing = (await wsRun(client, query, { tx: 'jwt-w2-private', ...variables })) as Result;
      const missing = (await wsRun(client, query, { tx: 'jwt-w2-nowhere', ...variables })) as Result;
      expect(code(existing)).toBe('FORBIDDEN');
      expect(JSON.stringify(missing).replaceAll('jwt-w2-nowhere', 'X')).toBe(JSON.stringify(existing).replaceAll('jwt-w2-private', 'X'));
    }
  });

  it('a token that expires mid-subscription closes the socket with 4403 at its exp; nothing streams on', async () => {
    const tx = 'jwt-w3';
    const writer = await as('seller-3', [tx]);
    await http(writer, JOIN, { tx });
    // exp is in whole seconds: at least 2 s of life.
    const exp = Math.floor(Date.now() / 1000) + 3;
    const token = await hs256({ sub: 'watcher-3', transactions: [tx], expiresIn: exp - Math.floor(Date.now() / 1000) });
    const events = new Subscription<EventsResult>(ws({ authorization: `Bearer ${token}` }), EVENTS, { tx, after: 0 });
    await http(writer, SELECT, { tx, field: 'price', value: '1' });
    expect((await events.take(2, 5000)).map((e) => e.conflictRoomEvents.__typename)).toEqual(['ParticipantJoined', 'FieldSelected']);
    const failure = await events.next(6000).then(
      (result) => ({ unexpected: result }),
      (error: Error) => ({ message: error.message, at: Date.now() }),
    );
    expect(failure).toEqual({ message: 'subscription ended without another result: close 4403 UNAUTHENTICATED: The token has expired: get a new one.', at: expect.any(Number) });
    const at = (failure as { at: number }).at;
    expect(at).toBeGreaterThanOrEqual(exp * 1000);
    await http(writer, SELECT, { tx, field: 'price', value: '2' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(events.pending()).toBe(0);
  });
});

describe('SSE', () => {
  it('streams with a Bearer header; without one the subscription is UNAUTHENTICATED', async () => {
    const tx = 'jwt-s1';
    const writer = await as('seller-4', [tx]);
    await http(writer, JOIN, { tx });
    const anonymous = createSseClient({ url: server.url, retryAttempts: 0 });
    const refused = await anonymous.iterate({ query: EVENTS, variables: { tx } }).next();
    expect(code(refused.value as Result)).toBe('UNAUTHENTICATED');
    anonymous.dispose();

    const client = createSseClient({ url: server.url, headers: await as('watcher-4', [tx]), retryAttempts: 0 });
    const stream = client.iterate<EventsResult>({ query: EVENTS, variables: { tx, after: 0 } });
    const first = await stream.next();
    expect((first.value as Result<EventsResult>).data?.conflictRoomEvents.__typename).toBe('ParticipantJoined');
    await stream.return?.();
    client.dispose();
  });

  it('a room the token does not grant is FORBIDDEN, the same whether it exists or not', async () => {
    await http(await as('seller-6', ['jwt-s-private']), JOIN, { tx: 'jwt-s-private' });
    const client = createSseClient({ url: server.url, headers: await as('mallory', ['jwt-s-mine']), retryAttempts: 0 });
    const first = async (tx: string) => JSON.stringify((await client.iterate({ query: EVENTS, variables: { tx, after: 0 } }).next()).value).replaceAll(tx, 'X');
    const existing = await first('jwt-s-private');
    expect(existing).toContain('"code":"FORBIDDEN"');
    expect(await first('jwt-s-nowhere')).toBe(existing);
    client.dispose();
  });

  it('a token that expires mid-subscription ends the stream with UNAUTHENTICATED at its exp', async () => {
    const tx = 'jwt-s2';
    const writer = await as('seller-5', [tx]);
    await http(writer, JOIN, { tx });
    const exp = Math.floor(Date.now() / 1000) + 3;
    const token = await hs256({ sub: 'watcher-5', transactions: [tx], expiresIn: exp - Math.floor(Date.now() / 1000) });
    const client = createSseClient({ url: server.url, headers: bearer(token), retryAttempts: 0 });
    const stream = client.iterate<EventsResult>({ query: EVENTS, variables: { tx, after: 0 } });
    expect(((await stream.next()).value as Result<EventsResult>).data?.conflictRoomEvents.__typename).toBe('ParticipantJoined');
    const ending = (await stream.next()).value as Result;
    const at = Date.now();
    expect(ending).toEqual({
      data: null,
      errors: [{ message: 'The token has expired: get a new one, then resume.', locations: expect.any(Array), path: ['conflictRoomEvents'], extensions: { code: 'UNAUTHENTICATED' } }],
    });
    expect(at).toBeGreaterThanOrEqual(exp * 1000);
    expect((await stream.next()).done).toBe(true);
    client.dispose();
  });
});
