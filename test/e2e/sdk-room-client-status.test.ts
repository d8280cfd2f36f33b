/**
 * The SDK room client tells its user what is happening, and every way its stream can end is handled:
 * a cut socket (offline, then resyncing, then live), the store going away (STORE_UNAVAILABLE reported,
 * then resumed), an error retrying cannot fix (reported, then closed), and a mutation whose reply was
 * lost (resent with the same requestId: one change, not two).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { createRoomClient, type Room, type RoomClientError, type RoomConnectionStatus, type RoomHandle } from '../../src/sdk/index.js';
import { eventually, mutate, post } from '../utils/clients.js';
import { JOIN, ROOM_QUERY, type RoomData, SELECT } from '../utils/operations.js';
import { type RedisProcess, startRedisServer } from '../utils/redis-server.js';
import { startServer, type TestServer } from '../utils/server.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
});

const sockets: WebSocket[] = [];
class TrackedWebSocket extends WebSocket {
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args);
    sockets.push(this);
  }
}

const alice = { userId: 'alice', userName: 'Alice' };
const bob = { userId: 'bob', userName: 'Bob' };
const fastRetry = async () => new Promise<void>((resolve) => setTimeout(resolve, 50));

function observe(room: RoomHandle) {
  const statuses: RoomConnectionStatus[] = [];
  const errors: RoomClientError[] = [];
  room.onStatus((status) => statuses.push(status));
  room.onError((error) => errors.push(error));
  return { statuses, errors };
}

async function serverRoom(url: string, tx: string): Promise<RoomData> {
  return (await post<{ conflictRoom: RoomData }>(url, bob, ROOM_QUERY, { tx })).data!.conflictRoom;
}

const sameRoom = (room: Room, server: RoomData) =>
  room.version === server.version &&
  room.epoch === server.epoch &&
  JSON.stringify(room.selections.map((s) => [s.field, s.value])) === JSON.stringify(server.selections.map((s) => [s.field, s.value]));

describe('SDK room client status and errors', () => {
  it('a cut socket: offline, then resyncing, then live, with no error, and it ends equal to the server', async () => {
    const server = await startServer();
    cleanups.push(() => server.stop());
    const tx = 'status-cut';
    await mutate(server.url, bob, JOIN, { tx });
    const rooms = createRoomClient({ url: server.wsUrl, webSocketImpl: TrackedWebSocket, connectionParams: alice, retryWait: fastRetry });
    cleanups.push(() => rooms.dispose());
    const room = await rooms.joinRoom(tx);
    const seen = observe(room);
    expect(room.status).toBe('live');
    for (const socket of sockets.splice(0)) socket.terminate();
    await mutate(server.url, bob, SELECT, { tx, field: 'price', value: 'while away' });
    await eventually(async () => room.status === 'live' && sameRoom(room.state, await serverRoom(server.url, tx)), 10_000, 'back and equal');
    expect(seen.statuses).toEqual(['offline', 'resyncing', 'live']);
    expect(seen.errors).toEqual([]);
    expect(room.state.selections.map((s) => s.value)).toEqual(['while away']);
  });

  it('the store goes away: STORE_UNAVAILABLE is reported, and the room resumes by itself when it is back', async () => {
    const redis: RedisProcess = await startRedisServer({ persistent: true });
    cleanups.push(() => redis.dispose());
    const server: TestServer = await startServer({ REDIS_URL: redis.url });
    cleanups.push(() => server.stop());
    const tx = 'status-store';
    await mutate(server.url, bob, JOIN, { tx });
    const rooms = createRoomClient({ url: server.wsUrl, webSocketImpl: WebSocket, connectionParams: alice, retryWait: fastRetry });
    cleanups.push(() => rooms.dispose());
    const room = await rooms.joinRoom(tx);
    const seen = observe(room);
    await redis.stop();
    // The server's stream retries the log for about ten seconds, then ends with the error.
    await eventually(() => seen.errors.length > 0, 20_000, 'an error reported');
    expect(seen.errors[0]).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(seen.statuses).toContain('resyncing');
    await redis.restart();
    await eventually(async () => (await post(server.url, bob, ROOM_QUERY, { tx })).errors === undefined, 10_000, 'store back');
    await mutate(server.url, bob, SELECT, { tx, field: 'price', value: 'after' });
    await eventually(async () => room.status === 'live' && sameRoom(room.state, await serverRoom(server.url, tx)), 15_000, 'resumed and equal');
    expect(room.state.selections.map((s) => s.value)).toEqual(['after']);
  }, 60_000);

  it('an error retrying cannot fix ends the room: reported with its code, then closed, and no retry loop', async () => {
    // A server that accepts the connection and the first query, then refuses the subscription with
    // close code 4403 (Forbidden), as a server whose grant was revoked would.
    const http = createServer();
    const wss = new WebSocketServer({ server: http, handleProtocols: () => 'graphql-transport-ws' });
    let subscribes = 0;
    wss.on('connection', (socket) => {
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string; id?: string; payload?: { query: string } };
        if (message.type === 'connection_init') socket.send(JSON.stringify({ type: 'connection_ack' }));
        if (message.type !== 'subscribe') return;
        if (message.payload!.query.includes('conflictRoomEvents')) {
          subscribes++;
          return socket.close(4403, 'Forbidden');
        }
        const room = { id: 'tx', transactionId: 'tx', version: 0, epoch: 'e', status: 'OPEN', allReady: false, resolvedAt: null, selections: [], participants: [] };
        socket.send(JSON.stringify({ id: message.id, type: 'next', payload: { data: { conflictRoom: { __typename: 'ConflictRoom', ...room } } } }));
        socket.send(JSON.stringify({ id: message.id, type: 'complete' }));
      });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => (wss.close(), http.close(resolve))));
    const rooms = createRoomClient({ url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}`, webSocketImpl: WebSocket, connectionParams: alice, retryWait: fastRetry });
    cleanups.push(() => rooms.dispose());
    const room = await rooms.watchRoom('tx');
    const seen = observe(room);
    await eventually(() => room.status === 'closed', 5000, 'closed');
    expect(seen.errors.map((e) => e.code)).toEqual(['CLOSE_4403']);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(subscribes).toBe(1);
  });

  it('a mutation whose reply is lost is sent again with the same requestId, and changes the room once', async () => {
    const server = await startServer();
    cleanups.push(() => server.stop());
    const tx = 'status-retry';
    await mutate(server.url, bob, JOIN, { tx });
    // A WebSocket proxy that drops the connection instead of passing on the first reply to a select.
    const seenRequestIds: string[] = [];
    const proxyHttp = createServer();
    const proxy = new WebSocketServer({ server: proxyHttp, handleProtocols: () => 'graphql-transport-ws' });
    let dropped = false;
    proxy.on('connection', (downstream) => {
      const upstream = new WebSocket(server.wsUrl, 'graphql-transport-ws');
      const pending: string[] = [];
      const selects = new Set<string>();
      upstream.on('open', () => pending.splice(0).forEach((m) => upstream.send(m)));
      downstream.on('message', (data) => {
        const text = String(data);
        const message = JSON.parse(text) as { type: string; id?: string; payload?: { query: string; variables?: { requestId?: string } } };
        if (message.type === 'subscribe' && message.payload!.query.includes('selectField')) {
          selects.add(message.id!);
          seenRequestIds.push(message.payload!.variables!.requestId!);
        }
        if (upstream.readyState === WebSocket.OPEN) upstream.send(text);
        else pending.push(text);
      });
      upstream.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string; id?: string };
        if (!dropped && message.type === 'next' && selects.has(message.id!)) {
          dropped = true; // the select ran on the server; its reply is lost with the connection
          downstream.terminate();
          upstream.close();
          return;
        }
        if (downstream.readyState === WebSocket.OPEN) downstream.send(String(data));
      });
      downstream.on('close', () => upstream.close());
      upstream.on('close', () => downstream.readyState === WebSocket.OPEN && downstream.close());
    });
    await new Promise<void>((resolve) => proxyHttp.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => (proxy.close(), proxyHttp.close(resolve))));
    const rooms = createRoomClient({ url: `ws://127.0.0.1:${(proxyHttp.address() as AddressInfo).port}/graphql`, webSocketImpl: WebSocket, connectionParams: alice, retryWait: fastRetry });
    cleanups.push(() => rooms.dispose());
    const room = await rooms.joinRoom(tx);
    const result = await room.select('price', '45000');
    expect(dropped).toBe(true);
    expect(seenRequestIds).toHaveLength(2);
    expect(seenRequestIds[1]).toBe(seenRequestIds[0]);
    expect(result.selections).toMatchObject([{ field: 'price', value: '45000' }]);
    // One change: bob and alice joined (1, 2), alice came online (3), one select (4), and presence
    // around the lost connection; never a second FieldSelected.
    const history = await serverRoom(server.url, tx);
    expect(history.selections).toMatchObject([{ field: 'price', value: '45000', version: result.selections[0]!.version }]);
    // The same requestId from the app, on purpose, is a no-op as well.
    const again = await room.select('price', 'other', { requestId: seenRequestIds[0]! });
    expect(again.selections).toMatchObject([{ field: 'price', value: '45000' }]);
  });
});
