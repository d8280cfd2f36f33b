/** The SDK's room client stays equal to the server's room, through writes, duplicates and a dropped socket. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import WebSocket from 'ws';
import { createRoomClient, execute, type Room } from '../../src/sdk/index.js';
import { ConflictRoomDocument } from '../../src/sdk/generated/graphql.js';
import { mutate } from '../utils/clients.js';
import { JOIN, SELECT } from '../utils/operations.js';
import { startCluster, type TestServer } from '../utils/server.js';

let cluster: Awaited<ReturnType<typeof startCluster>>;
let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  cluster = await startCluster(inject('redisUrl'), 2);
  [a, b] = cluster.servers as [TestServer, TestServer];
});
afterAll(() => cluster?.stop());

/** A WebSocket whose instances the test can reach, to cut them as a network would. */
const sockets: WebSocket[] = [];
class TrackedWebSocket extends WebSocket {
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args);
    sockets.push(this);
  }
}

/** Resolves when `check(room)` holds after some change; fails after timeoutMs. */
function until(room: { state: Room; onChange(listener: (state: Room) => void): () => void }, check: (state: Room) => boolean, timeoutMs = 10_000): Promise<Room> {
  if (check(room.state)) return Promise.resolve(room.state);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`room did not reach the expected state within ${timeoutMs} ms; at version ${room.state.version}`));
    }, timeoutMs);
    const off = room.onChange((state) => {
      if (!check(state)) return;
      clearTimeout(timer);
      off();
      resolve(state);
    });
  });
}

/** The room as the server has it now, through the SDK's own query document. */
async function serverRoom(transactionId: string): Promise<Room> {
  const client = (await import('graphql-ws')).createClient({ url: b.wsUrl, webSocketImpl: WebSocket, connectionParams: { userId: 'carol' } });
  try {
    return (await execute(client, ConflictRoomDocument, { transactionId })).conflictRoom;
  } finally {
    await client.dispose();
  }
}

describe('SDK room client', () => {
  it('joins, changes the room, and follows other users', async () => {
    const tx = 'sdk-1';
    const rooms = createRoomClient({ url: a.wsUrl, webSocketImpl: WebSocket, connectionParams: { userId: 'alice', userName: 'Alice' } });
    const room = await rooms.joinRoom(tx);
    expect(room.state).toMatchObject({ id: tx, version: 1, status: 'OPEN', participants: [{ userId: 'alice', name: 'Alice' }] });
    const selected = await room.select('price', '45000');
    expect(selected.selections).toMatchObject([{ id: `${tx}:price`, field: 'price', value: '45000', userId: 'alice' }]);

    await mutate(b.url, { userId: 'bob', userName: 'Bob' }, JOIN, { tx });
    await mutate(b.url, { userId: 'bob' }, SELECT, { tx, field: 'condition', value: 'Like New' });
    const seen = await until(room, (s) => s.selections.some((x) => x.field === 'condition'));
    expect(seen.selections.map((s) => [s.field, s.value, s.userId])).toEqual([
      ['condition', 'Like New', 'bob'],
      ['price', '45000', 'alice'],
    ]);
    expect(seen.participants.map((p) => p.userId)).toEqual(['alice', 'bob']);
    await expect(room.select('price', '1', { expectedVersion: 99 })).rejects.toMatchObject({ errors: [{ extensions: { code: 'VERSION_CONFLICT', currentVersion: expect.any(Number) } }] });
    await room.setReady(true);
    expect(room.state.participants.find((p) => p.userId === 'alice')!.isReady).toBe(true);
    room.close();
    await rooms.dispose();
  });

  it('survives a forced socket close in the middle of a stream of writes and ends equal to the server', async () => {
    const tx = 'sdk-2';
    await mutate(b.url, { userId: 'bob', userName: 'Bob' }, JOIN, { tx });
    const rooms = createRoomClient({
      url: a.wsUrl,
      webSocketImpl: TrackedWebSocket,
      connectionParams: { userId: 'alice', userName: 'Alice' },
      retryWait: async () => new Promise((resolve) => setTimeout(resolve, 50)),
    });
    const room = await rooms.joinRoom(tx);
    const writes = (async () => {
      for (let i = 0; i < 80; i++) {
        await mutate(b.url, { userId: 'bob' }, SELECT, { tx, field: `f${i % 7}`, value: `v${i}` });
        if (i === 30) for (const socket of sockets.splice(0)) socket.terminate();
      }
    })();
    await writes;
    const afterWrites = await serverRoom(tx);
    // The cut made Alice go offline, then online again when the client came back: the last events.
    const settled = await until(room, (r) => r.version >= afterWrites.version && r.participants.find((p) => p.userId === 'alice')!.online);
    expect(sockets.length).toBeGreaterThan(0); // it did reconnect
    expect(settled).toEqual(await serverRoom(tx));
    expect(room.state.selections.map((s) => s.value)).toEqual(['v77', 'v78', 'v79', 'v73', 'v74', 'v75', 'v76']);
    room.close();
    await rooms.dispose();
  });
});
