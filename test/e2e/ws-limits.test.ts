/**
 * Issue 8 on WebSockets: a message over the size limit closes its socket with 1009, a connection
 * holds a bounded number of operations (LIMIT_EXCEEDED), a user a bounded number of sockets per
 * instance (close 4429), hostile documents are refused as over HTTP, and a malformed grant in
 * connectionParams grants nothing.
 */
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { mutate, Subscription, wsClient } from '../utils/clients.js';
import { EVENTS, JOIN, ROOM_QUERY } from '../utils/operations.js';
import { startServer, type TestServer } from '../utils/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ MAX_SUBSCRIPTIONS_PER_CONNECTION: '3', MAX_CONNECTIONS_PER_USER: '2' });
});
afterAll(async () => {
  await server?.stop();
});

/** A raw graphql-transport-ws socket after its connection_ack (or its close); with a promise of its close code. */
async function rawSocket(connectionParams: Record<string, unknown> = { userId: 'raw' }) {
  const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  const messages: any[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  await new Promise<void>((resolve, reject) => {
    socket.on('open', () => resolve());
    socket.on('error', reject);
  });
  socket.send(JSON.stringify({ type: 'connection_init', payload: connectionParams }));
  // graphql-ws closes a socket that subscribes before its acknowledgement (4401): wait for it, or the close.
  await Promise.race([closed, new Promise<void>((resolve) => socket.once('message', () => resolve()))]);
  return { socket, closed, messages };
}

/** The error payload of one graphql-ws operation, or its data. */
async function once(client: ReturnType<typeof createClient>, query: string, variables: Record<string, unknown> = {}) {
  return new Promise<{ data?: any; errors?: any[] }>((resolve) => {
    let result: { data?: any; errors?: any[] } = {};
    client.subscribe({ query, variables }, { next: (r) => (result = r as typeof result), error: (e) => resolve({ errors: e as any[] }), complete: () => resolve(result) });
  });
}

describe('WebSocket limits', () => {
  it('a 1 MiB message closes the socket with 1009 (Message Too Big)', async () => {
    const { socket, closed } = await rawSocket();
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ __typename }', variables: { pad: 'x'.repeat(1024 * 1024) } } }));
    expect(await closed).toBe(1009);
  });

  it('a document whose operation cannot be told (two anonymous, or a wrong operationName) is BAD_USER_INPUT, as over HTTP', async () => {
    const { socket, closed, messages } = await rawSocket();
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ __typename } { __typename }' } }));
    socket.send(JSON.stringify({ id: '2', type: 'subscribe', payload: { query: 'query A { __typename }', operationName: 'B' } }));
    await expect.poll(() => messages.filter((m) => m.type === 'error'), { timeout: 3000 }).toEqual([
      {
        id: '1',
        type: 'error',
        payload: [0, 1].map((i) => ({
          message: 'This anonymous operation must be the only defined operation.',
          locations: [{ line: 1, column: 1 + 15 * i }],
          extensions: { code: 'BAD_USER_INPUT', reason: 'GRAPHQL_VALIDATION_FAILED' },
        })),
      },
      {
        id: '2',
        type: 'error',
        payload: [{ message: 'Could not determine what operation to execute.', extensions: { code: 'BAD_USER_INPUT', reason: 'OPERATION_RESOLUTION_FAILURE' } }],
      },
    ]);
    socket.close(1000);
    expect(await closed).toBe(1000);
  });

  it('a message under the limit is served on the same kind of socket', async () => {
    const { socket, closed, messages } = await rawSocket();
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ __typename }', variables: { pad: 'x'.repeat(60_000) } } }));
    await expect.poll(() => messages.map((m) => m.type), { timeout: 3000 }).toEqual(['connection_ack', 'next', 'complete']);
    expect(messages[1]).toEqual({ id: '1', type: 'next', payload: { data: { __typename: 'Query' } } });
    socket.close(1000);
    expect(await closed).toBe(1000);
  });

  it('one operation over MAX_SUBSCRIPTIONS_PER_CONNECTION gets LIMIT_EXCEEDED; the others keep streaming', async () => {
    const tx = 'ws-limit-1';
    await mutate(server.url, { userId: 'alice', userName: 'Alice' }, JOIN, { tx });
    const client = wsClient(server.wsUrl, { userId: 'watcher' });
    const subs = [0, 1, 2].map(() => new Subscription(client, EVENTS, { tx, after: 0 }));
    try {
      for (const sub of subs) expect((await sub.take(1))[0]).toMatchObject({ conflictRoomEvents: { __typename: 'ParticipantJoined', version: 1 } });
      const extra = await once(client, EVENTS, { tx, after: 0 });
      expect(extra.errors).toEqual([
        { message: 'Too many operations on this connection: at most 3 at once. Complete one first.', extensions: { code: 'LIMIT_EXCEEDED', limit: 3 } },
      ]);
      await mutate(server.url, { userId: 'bob', userName: 'Bob' }, JOIN, { tx });
      for (const sub of subs) expect((await sub.take(1))[0]).toMatchObject({ conflictRoomEvents: { __typename: 'ParticipantJoined', version: 2 } });
      // Completing one frees its place.
      subs[0]!.unsubscribe();
      expect((await once(client, ROOM_QUERY, { tx })).data?.conflictRoom.version).toBe(2);
    } finally {
      for (const sub of subs) sub.unsubscribe();
      await client.dispose();
    }
  });

  it('a third socket of one user is closed with 4429; after one closes, a new one is accepted', async () => {
    const first = await rawSocket({ userId: 'carol' });
    const second = await rawSocket({ userId: 'carol' });
    await expect.poll(() => [first.messages.length, second.messages.length]).toEqual([1, 1]);
    const third = await rawSocket({ userId: 'carol' });
    expect(await third.closed).toBe(4429);
    const other = await rawSocket({ userId: 'dave' }); // another user is not affected
    await expect.poll(() => other.messages).toEqual([{ type: 'connection_ack' }]);
    first.socket.close(1000);
    await first.closed;
    const fourth = await rawSocket({ userId: 'carol' });
    await expect.poll(() => fourth.messages).toEqual([{ type: 'connection_ack' }]);
    for (const s of [second, other, fourth]) s.socket.close(1000);
    await Promise.all([second.closed, other.closed, fourth.closed]);
  });

  it('a 2^30 fragment-doubling document is refused with BAD_USER_INPUT; the socket goes on', async () => {
    let document = 'query Q { conflictRoom(transactionId: "tx-1") { ...F30 } } fragment F0 on ConflictRoom { version }';
    for (let i = 1; i <= 30; i++) document += ` fragment F${i} on ConflictRoom { ...F${i - 1} ...F${i - 1} }`;
    const client = wsClient(server.wsUrl, { userId: 'erin' });
    try {
      const started = performance.now();
      const refused = await once(client, document);
      expect(performance.now() - started).toBeLessThan(1000);
      expect(refused.errors).toEqual([{ message: expect.stringMatching(/^Syntax Error: Query Cost limit of 5000 exceeded/), extensions: { code: 'BAD_USER_INPUT' } }]);
      expect((await once(client, '{ __typename }')).data).toEqual({ __typename: 'Query' });
    } finally {
      await client.dispose();
    }
  });
});

describe('grants in connectionParams', () => {
  it('a transactions value that is not an array grants nothing: FORBIDDEN, on queries and subscriptions', async () => {
    const tx = 'ws-grant-1';
    await mutate(server.url, { userId: 'alice', userName: 'Alice' }, JOIN, { tx });
    for (const transactions of [tx, { [tx]: true }, '']) {
      const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, connectionParams: { userId: 'mallory', transactions }, retryAttempts: 0, lazy: true });
      try {
        expect((await once(client, ROOM_QUERY, { tx })).errors?.[0]?.extensions?.code, JSON.stringify(transactions)).toBe('FORBIDDEN');
        const events = await once(client, EVENTS, { tx, after: 0 });
        expect(events.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      } finally {
        await client.dispose();
      }
    }
  });
});
