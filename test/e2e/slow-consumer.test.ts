/**
 * Subscribers that read too slowly. A client that stops reading loses only its subscriptions, with a
 * coded error (never its socket, never a close code graphql-ws refuses to retry), and the SDK room
 * client resumes from its last version. A client that is merely slow gets every event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { createRoomClient, type RoomClientError, type RoomConnectionStatus } from '../../src/sdk/index.js';
import { mutate, post, Subscription } from '../utils/clients.js';
import { EVENTS, type EventsResult, JOIN, ROOM_QUERY, type RoomData, SELECT } from '../utils/operations.js';
import { startServer, type TestServer } from '../utils/server.js';

let server: TestServer;
beforeAll(async () => {
  // A small allowance, so that a stalled socket falls behind in a second rather than after the
  // megabytes a real one is allowed (the kernel's own buffers still come first).
  server = await startServer({ SUBSCRIBER_MAX_BUFFERED_BYTES: String(256 * 1024) });
});
afterAll(() => server?.stop());

/** A `ws` WebSocket the test can pause (it stops reading from its TCP socket, as a frozen tab would). */
const sockets: WebSocket[] = [];
class PausableWebSocket extends WebSocket {
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args);
    sockets.push(this);
  }
}

const bob = { userId: 'bob', userName: 'Bob' };
const value = (i: number) => `${i}:${'x'.repeat(1000)}`;

/** Writes selects of 1 KB values, `concurrency` at a time, until `stop()` says so or `max` were written. */
async function writeUntil(tx: string, stop: () => boolean, max: number): Promise<number> {
  let written = 0;
  const worker = async () => {
    while (!stop() && written < max) {
      const i = written++;
      await mutate(server.url, bob, SELECT, { tx, field: `f${i % 50}`, value: value(i) });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return written;
}

describe('a subscriber that stops reading', () => {
  it('has its subscriptions ended with RATE_LIMITED (SLOW_CONSUMER); its socket stays open and usable', async () => {
    const tx = 'slow-stop';
    await mutate(server.url, bob, JOIN, { tx });
    const alice = { userId: 'alice', userName: 'Alice' };
    await mutate(server.url, alice, JOIN, { tx });
    const watcher = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, connectionParams: { userId: 'watcher' }, retryAttempts: 0 });
    const watching = new Subscription<EventsResult>(watcher, EVENTS, { tx, after: 2 });
    const closes: number[] = [];
    const slow = createClient({
      url: server.wsUrl,
      webSocketImpl: PausableWebSocket,
      connectionParams: alice,
      retryAttempts: 0,
      on: { closed: (event) => closes.push((event as { code: number }).code) },
    });
    const subs = Array.from({ length: 10 }, () => new Subscription<EventsResult>(slow, EVENTS, { tx, after: 2 }));
    // A subscription of the same socket to a quiet room: it has nothing to send, so it is not behind.
    await mutate(server.url, bob, JOIN, { tx: 'slow-quiet' });
    const quiet = new Subscription<EventsResult>(slow, EVENTS, { tx: 'slow-quiet', after: 1 });
    expect((await watching.take(1))[0]!.conflictRoomEvents).toMatchObject({ __typename: 'PresenceChanged', participant: { userId: 'alice', online: true } });
    for (const sub of subs) await sub.take(1); // every subscription is live (it saw alice come online)
    const socket = sockets.at(-1)!;
    socket.pause();

    // Write until the server gives up on alice's subscriptions: she goes offline when the last one ends.
    let offline = false;
    void (async () => {
      for (;;) {
        const event = (await watching.take(1, 60_000))[0]!.conflictRoomEvents;
        if (event.__typename === 'PresenceChanged' && event.participant?.userId === 'alice') return void (offline = true);
      }
    })().catch(() => undefined); // the test then fails on `offline`
    const written = await writeUntil(tx, () => offline, 20_000);
    expect(offline).toBe(true);
    socket.resume();

    for (const sub of subs) {
      const versions: number[] = [];
      let failure: { message: string; extensions?: Record<string, unknown> } | undefined;
      while (!failure) {
        const result = await sub.next(10_000);
        if (result.errors) failure = result.errors[0];
        else versions.push(result.data!.conflictRoomEvents.version);
      }
      // What was delivered before the end is contiguous, and nothing follows the error.
      expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => 4 + i));
      expect(failure.extensions).toEqual({ code: 'RATE_LIMITED', reason: 'SLOW_CONSUMER', retryAfterMs: 1000 });
      await expect(sub.next(2000)).rejects.toThrow(/ended without another result/);
    }
    // The socket is still open: its other subscription still streams, another operation works, and
    // nothing closed it.
    await mutate(server.url, bob, SELECT, { tx: 'slow-quiet', field: 'price', value: '1' });
    expect((await quiet.take(1))[0]!.conflictRoomEvents).toMatchObject({ __typename: 'FieldSelected', version: 2 });
    const again = await new Promise<RoomData>((resolve, reject) =>
      slow.subscribe<{ conflictRoom: RoomData }>({ query: ROOM_QUERY, variables: { tx } }, { next: (r) => r.data && resolve(r.data.conflictRoom), error: reject, complete: () => undefined }),
    );
    expect(again.version).toBeGreaterThanOrEqual(3 + written);
    expect(closes).toEqual([]);
    await slow.dispose();
    await watcher.dispose();
  }, 90_000);

  it('the SDK room client reports it, resumes from its last version, and ends equal to the server', async () => {
    const tx = 'slow-sdk';
    await mutate(server.url, bob, JOIN, { tx });
    // The room client shares its socket with nine more subscriptions to the room, so that a stalled
    // socket falls behind ten times faster (and before the server's keep-alive gives up on it).
    const client = createClient({
      url: server.wsUrl,
      webSocketImpl: PausableWebSocket,
      connectionParams: { userId: 'alice', userName: 'Alice' },
      lazy: false,
      retryAttempts: Number.POSITIVE_INFINITY,
      shouldRetry: () => true,
    });
    const rooms = createRoomClient({ client });
    const room = await rooms.joinRoom(tx);
    for (let i = 0; i < 9; i++) new Subscription<EventsResult>(client, EVENTS, { tx, after: 1 });
    const statuses: RoomConnectionStatus[] = [];
    const errors: RoomClientError[] = [];
    room.onStatus((status) => statuses.push(status));
    room.onError((error) => errors.push(error));
    const socket = sockets.at(-1)!;
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.pause();
    let failed = false;
    room.onError(() => (failed = true));
    // Paused, the client cannot see the error either: write until the server has dropped the stream
    // (its presence went offline), then let the client read again.
    const watcher = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, connectionParams: { userId: 'watcher' }, retryAttempts: 0 });
    const watching = new Subscription<EventsResult>(watcher, EVENTS, { tx, after: 0 });
    let dropped = false;
    void (async () => {
      for (;;) {
        const event = (await watching.take(1, 60_000))[0]!.conflictRoomEvents;
        if (event.__typename === 'PresenceChanged' && event.participant?.userId === 'alice' && event.participant.online === false) return void (dropped = true);
      }
    })().catch(() => undefined); // the test then fails waiting for the error
    await writeUntil(tx, () => dropped, 20_000);
    socket.resume();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no error reported; statuses ${statuses.join(',')}`)), 15_000);
      const check = setInterval(() => {
        if (!failed) return;
        clearInterval(check);
        clearTimeout(timer);
        resolve();
      }, 20);
    });
    expect(errors[0]).toMatchObject({ code: 'RATE_LIMITED' });
    // It resubscribes after retryAfterMs and catches up with the server.
    const server_ = (await post<{ conflictRoom: RoomData }>(server.url, bob, ROOM_QUERY, { tx })).data!.conflictRoom;
    const deadline = Date.now() + 20_000;
    while (room.state.version < server_.version + 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const now = (await post<{ conflictRoom: RoomData }>(server.url, bob, ROOM_QUERY, { tx })).data!.conflictRoom;
    expect(room.state.version).toBe(now.version);
    expect(room.state.selections.map((s) => [s.field, s.value])).toEqual(now.selections.map((s) => [s.field, s.value]));
    expect(room.state.participants.find((p) => p.userId === 'alice')?.online).toBe(true);
    expect(statuses).toContain('resyncing');
    expect(statuses.at(-1)).toBe('live');
    room.close();
    expect(room.status).toBe('closed');
    await rooms.dispose();
    await client.dispose();
    await watcher.dispose();
  }, 120_000);
});

describe('a subscriber that is merely slow', () => {
  it('reads in bursts with pauses and still gets every event, in order, with no error', async () => {
    const tx = 'slow-but-ok';
    await mutate(server.url, bob, JOIN, { tx });
    const client = createClient({ url: server.wsUrl, webSocketImpl: PausableWebSocket, connectionParams: { userId: 'watcher' }, retryAttempts: 0 });
    const sub = new Subscription<EventsResult>(client, EVENTS, { tx, after: 1 });
    const socket = await (async () => {
      await mutate(server.url, bob, SELECT, { tx, field: 'start', value: 'go' });
      await sub.take(1);
      return sockets.at(-1)!;
    })();
    // A tab on a slow phone: reads for 20 ms, stalls for 80 ms, while 300 changes arrive.
    let stalling = true;
    void (async () => {
      while (stalling) {
        socket.pause();
        await new Promise((resolve) => setTimeout(resolve, 80));
        socket.resume();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const written = await writeUntil(tx, () => false, 300);
    stalling = false;
    socket.resume();
    const versions = (await sub.take(written, 30_000)).map((e) => e.conflictRoomEvents.version);
    expect(versions).toEqual(Array.from({ length: written }, (_, i) => 3 + i));
    await client.dispose();
  }, 60_000);
});
