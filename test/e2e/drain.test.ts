/**
 * SIGTERM on a real instance process, with a mutation held in flight by a real Redis (CLIENT PAUSE
 * WRITE on a redis-server of the test's own): the mutation completes, new requests get 503 and new
 * WebSockets are refused while it drains, then the WebSocket closes with 1001, the SSE stream ends
 * without `complete` and graphql-sse's client reconnects (to another instance), presence is released,
 * and the process exits 0 within SHUTDOWN_TIMEOUT_MS.
 */
import { createClient as createSseClient } from 'graphql-sse';
import { createClient } from 'graphql-ws';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { eventually, mutate, Subscription } from '../utils/clients.js';
import { EVENTS, type EventsResult, JOIN, ROOM_QUERY, type RoomData, SELECT } from '../utils/operations.js';
import { type InstanceProcess, startInstanceProcess } from '../utils/instance-process.js';
import { startRedisServer } from '../utils/redis-server.js';
import { deletePrefix, serverBase, startServer, testPrefix } from '../utils/server.js';
import { cleanupsAfterEach } from '../utils/cleanups.js';

const alice = { userId: 'alice', userName: 'Alice' };
const bob = { userId: 'bob', userName: 'Bob' };

const cleanups = cleanupsAfterEach();


/** The status a new WebSocket upgrade gets ('open' when it is accepted). */
function upgradeStatus(wsUrl: string): Promise<number | 'open'> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
    socket.once('open', () => {
      socket.close();
      resolve('open');
    });
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('error', (error) => reject(error));
  });
}

describe('SIGTERM', () => {
  it('drains: in-flight mutation answered, new work 503, WS 1001, SSE ended and resumed elsewhere, presence released, exit 0', async () => {
    const redis = await startRedisServer();
    cleanups.push(() => redis.dispose());
    const env = {
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: testPrefix('drain'),
      // Longer than the pause below: the held commit waits instead of failing.
      STORE_TIMEOUT_MS: '8000',
      // No presence heartbeat write falls into the pause.
      PRESENCE_TIMEOUT_MS: '600000',
      SHUTDOWN_TIMEOUT_MS: '10000',
      LOG_LEVEL: 'info',
    };
    const doomed: InstanceProcess = await startInstanceProcess(env);
    cleanups.push(() => doomed.kill());
    const other = await startServer(env);
    cleanups.push(() => other.stop());
    const tx = 'drain-1';
    await mutate(doomed.url, alice, JOIN, { tx });
    await mutate(doomed.url, bob, JOIN, { tx });

    // alice follows the room over graphql-ws on the doomed instance.
    let wsClosed: { code: number; reason: string; at: number } | undefined;
    const ws = createClient({
      url: doomed.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: alice,
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => undefined, // the close is asserted below
      on: {
        closed: (event) => {
          const { code, reason } = event as { code: number; reason: string };
          wsClosed ??= { code, reason, at: Date.now() };
        },
      },
    });
    cleanups.push(async () => ws.dispose());
    const wsSub = new Subscription<EventsResult>(ws, EVENTS, { tx, after: 2 });
    expect((await wsSub.take(1))[0]!.conflictRoomEvents).toMatchObject({ __typename: 'PresenceChanged', version: 3, participant: { userId: 'alice', online: true } });

    // bob follows it over SSE (graphql-sse's client): the doomed instance first, then the other one.
    const urls = [doomed.url, other.url];
    let connects = 0;
    const reconnects: boolean[] = [];
    const sseEvents: Array<{ version: number; __typename: string; userId: string | null }> = [];
    let sseCompleted = false;
    const sse = createSseClient({
      url: () => urls[Math.min(connects++, 1)]!,
      headers: { 'x-user-id': bob.userId, 'x-user-name': bob.userName },
      retryAttempts: 2,
      retry: async () => undefined,
      on: { connecting: (reconnecting) => void reconnects.push(reconnecting) },
    });
    cleanups.push(async () => sse.dispose());
    sse.subscribe<EventsResult>(
      { query: EVENTS, variables: { tx, after: 3 } },
      {
        next: (result) => void (result.data && sseEvents.push(result.data.conflictRoomEvents)),
        error: () => undefined,
        complete: () => void (sseCompleted = true),
      },
    );
    await eventually(() => sseEvents.length === 1, 5000, "bob's SSE presence event");
    expect(sseEvents[0]).toMatchObject({ __typename: 'PresenceChanged', version: 4, userId: 'bob' });
    expect((await wsSub.take(1))[0]!.conflictRoomEvents).toMatchObject({ __typename: 'PresenceChanged', version: 4 });

    // Hold every write for 3 s, send a mutation, and SIGTERM while it waits in Redis.
    const admin = new Redis(redis.url);
    cleanups.push(async () => admin.disconnect());
    await admin.call('CLIENT', 'PAUSE', '3000', 'WRITE');
    const pausedAt = Date.now();
    let answeredAt = 0;
    const inFlight = fetch(doomed.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': 'alice' },
      body: JSON.stringify({ query: SELECT, variables: { tx, field: 'price', value: '45000' } }),
    }).then(async (response) => {
      answeredAt = Date.now();
      return { status: response.status, body: (await response.json()) as { data?: { selectField: RoomData } } };
    });
    await eventually(async () => /blocked_clients:[1-9]/.test(await admin.info('clients')), 2000, 'the commit held by CLIENT PAUSE');
    // And one over alice's socket, queued behind it (same room): in flight on graphql-ws.
    let wsAnswer: { data?: { selectField: RoomData } | null; errors?: unknown } | undefined;
    let wsAnsweredAt = 0;
    ws.subscribe<{ selectField: RoomData }>(
      { query: SELECT, variables: { tx, field: 'condition', value: 'Like New' } },
      { next: (result) => void ((wsAnswer = result), (wsAnsweredAt = Date.now())), error: () => undefined, complete: () => undefined },
    );
    // The HTTP request and its operation, and the socket's operation.
    const inFlightNow = async () => /^conflict_rooms_work_in_flight (\d+)$/m.exec(await (await fetch(`${serverBase(doomed.url)}/metrics`)).text())?.[1];
    await eventually(async () => (await inFlightNow()) === '3', 2000, 'three pieces of work in flight');
    const termAt = Date.now();
    const exited = doomed.terminate();

    // Draining: a new request gets 503, /ready says so, /health does not, a new WebSocket is refused.
    const probe = () => fetch(`${doomed.url}?query=${encodeURIComponent('{ __typename }')}`);
    await eventually(async () => (await probe()).status === 503, 2000, 'a new request answered 503');
    const refused = await probe();
    expect([refused.status, refused.headers.get('retry-after'), await refused.json()]).toEqual([
      503,
      '1',
      { errors: [{ message: 'This instance is shutting down: retry, another instance will answer.', extensions: { code: 'STORE_UNAVAILABLE', reason: 'SHUTTING_DOWN' } }] },
    ]);
    const ready = await fetch(`${serverBase(doomed.url)}/ready`);
    expect([ready.status, await ready.text()]).toEqual([503, '{"status":"draining"}']);
    expect((await fetch(`${serverBase(doomed.url)}/health`)).status).toBe(200);
    expect(await upgradeStatus(doomed.wsUrl)).toBe(503);
    expect(wsClosed).toBeUndefined();

    // The held mutation completes and is answered; then the socket closes with 1001; the process exits 0.
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.body.data?.selectField).toMatchObject({ version: 5, selections: [{ field: 'price', value: '45000', userId: 'alice' }] });
    expect(answeredAt - pausedAt).toBeGreaterThanOrEqual(2900);
    const code = await exited;
    const exitMs = Date.now() - termAt;
    expect(code).toBe(0);
    expect(exitMs).toBeLessThan(10_000);
    // The child's exit and the close frame reach this process by different paths: either may come first.
    await eventually(() => wsClosed !== undefined, 2000, "alice's socket closed");
    expect(wsClosed).toMatchObject({ code: 1001 });
    expect(wsClosed!.at).toBeGreaterThanOrEqual(answeredAt);
    expect(wsAnswer).toMatchObject({ data: expect.anything() });
    expect(wsAnswer?.data?.selectField).toMatchObject({ version: 6, selections: [{ field: 'condition', value: 'Like New' }, { field: 'price', value: '45000' }] });
    expect(wsClosed!.at).toBeGreaterThanOrEqual(wsAnsweredAt);

    // SSE: the stream ended without `complete`, the client reconnected, to the other instance, and resumed.
    expect(sseCompleted).toBe(false);
    await eventually(() => reconnects.includes(true), 5000, 'graphql-sse reconnecting');
    await eventually(() => sseEvents.some((e) => e.version === 5 && e.__typename === 'FieldSelected'), 5000, 'the select over the resumed SSE stream');

    // Presence: alice's socket was closed and her hold released by the stop itself, at once.
    await eventually(
      async () => (await mutate<{ conflictRoom: RoomData }>(other.url, bob, ROOM_QUERY, { tx })).conflictRoom.participants.some((p) => p.userId === 'alice' && !p.online),
      3000,
      'alice offline after the stop',
    );
    const room = (await mutate<{ conflictRoom: RoomData }>(other.url, bob, ROOM_QUERY, { tx })).conflictRoom;
    expect(room.participants.map((p) => [p.userId, p.online])).toEqual([
      ['alice', false],
      ['bob', true],
    ]);
    console.log(
      `SIGTERM: mutation answered ${answeredAt - termAt} ms after it (held ${answeredAt - pausedAt} ms by Redis), WS closed 1001 at ${wsClosed!.at - termAt} ms, exit 0 at ${exitMs} ms`,
    );
  }, 30_000);

  it('with nothing in flight it is as quick as before: WebSockets closed with 1001 and the exit in well under a second', async () => {
    const redisUrl = inject('redisUrl');
    const prefix = testPrefix('drain-idle');
    cleanups.push(() => deletePrefix(redisUrl, prefix));
    const instance = await startInstanceProcess({ REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix });
    cleanups.push(() => instance.kill());
    await mutate(instance.url, alice, JOIN, { tx: 'idle-1' });
    const closes: Array<{ code: number; at: number }> = [];
    const clients = [alice, bob].map((user) =>
      createClient({
        url: instance.wsUrl,
        webSocketImpl: WebSocket,
        connectionParams: user,
        retryAttempts: 0,
        lazy: false,
        onNonLazyError: () => undefined,
        on: { closed: (event) => void closes.push({ code: (event as { code: number }).code, at: Date.now() }) },
      }),
    );
    for (const client of clients) cleanups.push(async () => client.dispose());
    const subs = clients.map((client) => new Subscription<EventsResult>(client, EVENTS, { tx: 'idle-1', after: 1 }));
    expect((await subs[0]!.take(1))[0]!.conflictRoomEvents).toMatchObject({ __typename: 'PresenceChanged', version: 2 });
    const termAt = Date.now();
    const code = await instance.terminate();
    const exitMs = Date.now() - termAt;
    expect(code).toBe(0);
    await eventually(() => closes.length === 2, 2000, 'both sockets closed');
    expect(closes.map((c) => c.code)).toEqual([1001, 1001]);
    const closeMs = Math.max(...closes.map((c) => c.at - termAt));
    expect(exitMs).toBeLessThan(1000);
    console.log(`SIGTERM, nothing in flight: both sockets closed 1001 within ${closeMs} ms, exit 0 at ${exitMs} ms`);
  });

  it('exits within SHUTDOWN_TIMEOUT_MS (code 1) when the stop cannot finish: Redis holding every write', async () => {
    const redis = await startRedisServer();
    cleanups.push(() => redis.dispose());
    const env = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: testPrefix('drain-force'), STORE_TIMEOUT_MS: '8000', PRESENCE_TIMEOUT_MS: '600000', SHUTDOWN_TIMEOUT_MS: '1000' };
    const instance = await startInstanceProcess(env);
    cleanups.push(() => instance.kill());
    await mutate(instance.url, alice, JOIN, { tx: 'force-1' });
    const client = createClient({ url: instance.wsUrl, webSocketImpl: WebSocket, connectionParams: alice, retryAttempts: 0, lazy: false, onNonLazyError: () => undefined });
    cleanups.push(async () => client.dispose());
    const sub = new Subscription<EventsResult>(client, EVENTS, { tx: 'force-1', after: 1 });
    expect((await sub.take(1))[0]!.conflictRoomEvents).toMatchObject({ __typename: 'PresenceChanged', version: 2 });
    // Every write now waits 10 s in Redis: the offline mark of the release cannot land.
    const admin = new Redis(redis.url);
    cleanups.push(async () => admin.disconnect());
    await admin.call('CLIENT', 'PAUSE', '10000', 'WRITE');
    cleanups.push(async () => admin.call('CLIENT', 'UNPAUSE'));
    const termAt = Date.now();
    const code = await instance.terminate();
    const exitMs = Date.now() - termAt;
    expect(code).toBe(1);
    expect(exitMs).toBeGreaterThanOrEqual(1000);
    expect(exitMs).toBeLessThan(2500);
    expect(instance.output()).toContain('stop did not finish within SHUTDOWN_TIMEOUT_MS: exiting anyway');
    console.log(`SIGTERM with Redis holding writes: forced exit 1 at ${exitMs} ms (SHUTDOWN_TIMEOUT_MS 1000)`);
  });
});
