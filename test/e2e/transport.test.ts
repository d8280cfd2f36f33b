/** One /graphql endpoint: HTTP, SSE, graphql-ws and GraphiQL; the embedded store needs nothing else. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mutate, Subscription, wsClient } from '../utils/clients.js';
import { EVENTS, type EventsResult, JOIN, SELECT } from '../utils/operations.js';
import { startServer, type TestServer } from '../utils/server.js';

const alice = { userId: 'alice', userName: 'Alice' };

let server: TestServer;
beforeAll(async () => {
  server = await startServer(); // no REDIS_URL: the embedded store
});
afterAll(() => server?.stop());

/** Reads `count` SSE "next" events from a streaming response, failing after timeoutMs. */
async function readSse(response: Response, count: number, timeoutMs = 5000): Promise<unknown[]> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const out: unknown[] = [];
  let buffer = '';
  const deadline = setTimeout(() => void reader.cancel(), timeoutMs);
  try {
    while (out.length < count) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`SSE stream ended after ${out.length} of ${count} events`);
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split('\n').find((line) => line.startsWith('data:'));
        if (block.startsWith('event: next') && data) out.push(JSON.parse(data.slice(5)));
      }
    }
    return out;
  } finally {
    clearTimeout(deadline);
    await reader.cancel().catch(() => undefined);
  }
}

describe('transports', () => {
  it('serves the embedded store', () => {
    expect(server.app.storeKind).toBe('memory');
  });

  it('streams subscriptions over SSE with the same identity headers', async () => {
    const tx = 'sse-1';
    await mutate(server.url, alice, JOIN, { tx });
    await mutate(server.url, alice, SELECT, { tx, field: 'price', value: '1' });
    const controller = new AbortController();
    const response = await fetch(server.url, {
      method: 'POST',
      signal: controller.signal,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-user-id': 'bob' },
      body: JSON.stringify({ query: EVENTS, variables: { tx, after: 0 } }),
    });
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reading = readSse(response, 3);
    // The catch-up (versions 1, 2) is followed by a live event.
    setTimeout(() => void mutate(server.url, alice, SELECT, { tx, field: 'price', value: '2' }), 50);
    const events = (await reading) as Array<{ data: EventsResult }>;
    expect(events.map((e) => [e.data.conflictRoomEvents.__typename, e.data.conflictRoomEvents.version])).toEqual([
      ['ParticipantJoined', 1],
      ['FieldSelected', 2],
      ['FieldSelected', 3],
    ]);
    controller.abort();
  });

  it('runs queries, mutations and subscriptions over one graphql-ws connection', async () => {
    const tx = 'ws-1';
    const client = wsClient(server.wsUrl, alice);
    const joined = await client.iterate({ query: JOIN, variables: { tx } }).next();
    expect(joined.value).toMatchObject({ data: { joinConflictRoom: { version: 1, participants: [{ userId: 'alice', name: 'Alice' }] } } });
    const sub = new Subscription<EventsResult>(client, EVENTS, { tx, after: 1 });
    expect((await sub.take(1))[0]!.conflictRoomEvents).toMatchObject({ __typename: 'PresenceChanged', version: 2 });
    // Invalid operations are graphql-ws `error` messages; the connection and its subscription stay up.
    const bad = await client.iterate({ query: 'query { nope }' }).next().catch((error: unknown) => error);
    expect(JSON.stringify(bad)).toMatch(/Cannot query field \\"nope\\"/);
    const syntax = await client.iterate({ query: 'query {' }).next().catch((error: unknown) => error);
    expect(JSON.stringify(syntax)).toMatch(/Syntax Error/);
    await client.iterate({ query: SELECT, variables: { tx, field: 'price', value: '9' } }).next();
    expect((await sub.take(1))[0]!.conflictRoomEvents).toMatchObject({ __typename: 'FieldSelected', version: 3 });
    await client.dispose();
  });

  it('a user who subscribed before joining joins online', async () => {
    const tx = 'ws-early-1';
    const client = wsClient(server.wsUrl, alice);
    const sub = new Subscription<EventsResult>(client, EVENTS, { tx, after: 0 });
    // Bob's join reaching Alice's stream shows that her subscription is registered (watchers get no presence event).
    await mutate(server.url, { userId: 'bob' }, JOIN, { tx });
    expect((await sub.take(1))[0]!.conflictRoomEvents).toMatchObject({ __typename: 'ParticipantJoined', version: 1, participant: { userId: 'bob' } });
    const joined = await client.iterate({ query: JOIN, variables: { tx } }).next();
    expect(joined.value).toMatchObject({ data: { joinConflictRoom: { version: 2, participants: [{ userId: 'bob' }, { userId: 'alice', online: true }] } } });
    expect((await sub.take(1))[0]!.conflictRoomEvents).toMatchObject({ __typename: 'ParticipantJoined', version: 2, participant: { userId: 'alice', online: true } });
    await client.dispose();
  });

  it('serves GraphiQL from the server itself, with no CDN', async () => {
    const response = await fetch(server.url, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    const page = await response.text();
    expect(page).toMatch(/graphiql/i);
    expect(page).not.toMatch(/https?:\/\/(unpkg\.com|cdn\.jsdelivr\.net|esm\.sh|cdnjs)/);
    expect(page).toContain('x-user-id');
  });
});
