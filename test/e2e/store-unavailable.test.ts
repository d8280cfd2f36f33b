/** Redis goes away: operations fail fast with STORE_UNAVAILABLE, the server keeps answering and recovers. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, mutate, post, Subscription, wsClient } from '../utils/clients.js';
import { EVENTS, type EventsResult, JOIN, ROOM_QUERY, type RoomData, SELECT } from '../utils/operations.js';
import { type RedisProcess, startRedisServer } from '../utils/redis-server.js';
import { startServer, type TestServer } from '../utils/server.js';

const alice = { userId: 'alice', userName: 'Alice' };

let redis: RedisProcess;
let server: TestServer;
beforeAll(async () => {
  redis = await startRedisServer();
  server = await startServer({ REDIS_URL: redis.url });
});
afterAll(async () => {
  await server?.stop();
  await redis?.stop();
});

describe('store unavailable', () => {
  it('fails within 2 seconds, keeps serving, recovers by itself, and a lost room starts a new epoch', async () => {
    const tx = 'outage-1';
    const before = (await mutate<{ joinConflictRoom: RoomData }>(server.url, alice, JOIN, { tx })).joinConflictRoom;
    await mutate(server.url, alice, SELECT, { tx, field: 'price', value: '1' });
    await redis.stop();

    for (const [query, variables] of [
      [SELECT, { tx, field: 'price', value: '2' }],
      [ROOM_QUERY, { tx }],
    ] as const) {
      const started = Date.now();
      const result = await post(server.url, alice, query, variables);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(result.errors?.map((e) => e.extensions?.code)).toEqual(['STORE_UNAVAILABLE']);
    }
    const client = wsClient(server.wsUrl, alice);
    const started = Date.now();
    const sub = new Subscription<EventsResult>(client, EVENTS, { tx, after: 0 });
    const failed = await sub.next(3000);
    expect(Date.now() - started).toBeLessThan(2500);
    expect(failed.errors?.map((e) => e.extensions?.code)).toEqual(['STORE_UNAVAILABLE']);
    // The server itself still answers.
    const alive = await fetch(`${server.url}?query=%7B__typename%7D`, { headers: { 'x-graphql-yoga-csrf': '1' } });
    expect(await alive.json()).toEqual({ data: { __typename: 'Query' } });

    await redis.restart(); // an empty Redis: the room's data is lost
    await eventually(async () => (await post(server.url, alice, ROOM_QUERY, { tx })).errors === undefined, 10_000, 'recovery');
    const after = (await mutate<{ conflictRoom: RoomData }>(server.url, alice, ROOM_QUERY, { tx })).conflictRoom;
    expect(after.version).toBe(0);
    // Writing again starts a new history, which a resume with the old epoch learns from a snapshot.
    const rejoined = (await mutate<{ joinConflictRoom: RoomData }>(server.url, alice, JOIN, { tx })).joinConflictRoom;
    expect(rejoined.version).toBe(1);
    expect(rejoined.epoch).not.toBe(before.epoch);
    const resumed = new Subscription<EventsResult>(client, EVENTS, { tx, after: 2, epoch: before.epoch });
    const [snapshot, online] = (await resumed.take(2)).map((e) => e.conflictRoomEvents);
    expect(snapshot).toMatchObject({ __typename: 'RoomSnapshot', version: 1, room: { epoch: rejoined.epoch } });
    // Alice's own subscription then makes her online.
    expect(online).toMatchObject({ __typename: 'PresenceChanged', version: 2, participant: { userId: 'alice', online: true } });
    await client.dispose();
  });
});
