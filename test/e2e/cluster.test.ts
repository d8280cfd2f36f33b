/** Two instances of the service on one Redis behave as one: one order of events, one presence. */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { eventually, mutate, post, Subscription, wsClient } from '../utils/clients.js';
import { EVENTS, type EventsResult, JOIN, ROOM_QUERY, type RoomData, SELECT } from '../utils/operations.js';
import { startCluster, type TestServer } from '../utils/server.js';

const users = ['alice', 'bob', 'carol', 'dave'].map((id) => ({ userId: id, userName: id.toUpperCase() }));
const [alice, bob] = users as [(typeof users)[0], (typeof users)[0]];

let cluster: Awaited<ReturnType<typeof startCluster>>;
let a: TestServer;
let b: TestServer;
let redis: Redis;
beforeAll(async () => {
  cluster = await startCluster(inject('redisUrl'), 2);
  [a, b] = cluster.servers as [TestServer, TestServer];
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  redis?.disconnect();
  await cluster?.stop();
});

const numsub = async (tx: string) => {
  const [, count] = (await redis.pubsub('NUMSUB', `${cluster.prefix}{${tx}}:events`)) as [string, number];
  return Number(count);
};

describe('two instances on one Redis', () => {
  it('a change on A reaches a subscriber on B', async () => {
    const tx = 'cross-1';
    await mutate(a.url, alice, JOIN, { tx });
    const client = wsClient(b.wsUrl, bob);
    const sub = new Subscription<EventsResult>(client, EVENTS, { tx, after: 1 });
    await eventually(async () => (await numsub(tx)) === 1, 5000, 'B subscribed to the room channel');
    await mutate(a.url, alice, SELECT, { tx, field: 'price', value: '45000' });
    expect((await sub.take(1))[0]!.conflictRoomEvents).toMatchObject({
      __typename: 'FieldSelected',
      version: 2,
      userId: 'alice',
      selection: { field: 'price', value: '45000', userName: 'ALICE', version: 2 },
    });
    await client.dispose();
  });

  it('50 concurrent selects of one field across both give every subscriber the same contiguous versions', async () => {
    const tx = 'race-1';
    for (const user of users) await mutate(a.url, user, JOIN, { tx });
    const clients = [wsClient(a.wsUrl, { userId: 'watcher-a1' }), wsClient(a.wsUrl, { userId: 'watcher-a2' }), wsClient(b.wsUrl, { userId: 'watcher-b1' }), wsClient(b.wsUrl, { userId: 'watcher-b2' })];
    const subs = clients.map((c) => new Subscription<EventsResult>(c, EVENTS, { tx, after: 4 }));
    await eventually(async () => (await numsub(tx)) === 2, 5000, 'both instances subscribed');
    const writes = Array.from({ length: 50 }, (_, i) => {
      const user = users[i % users.length]!;
      const server = i % 2 === 0 ? a : b;
      return post<{ selectField: RoomData }>(server.url, user, SELECT, { tx, field: 'price', value: `v${i}` });
    });
    const results = await Promise.all(writes);
    for (const result of results) expect(result.errors).toBeUndefined();
    // Every acknowledged write has its own version.
    expect(new Set(results.map((r) => r.data!.selectField.selections[0]!.version)).size).toBe(50);

    const streams = await Promise.all(subs.map((s) => s.take(50, 10_000)));
    const expectedVersions = Array.from({ length: 50 }, (_, i) => 5 + i);
    for (const stream of streams) {
      expect(stream.map((e) => e.conflictRoomEvents.version)).toEqual(expectedVersions);
      expect(stream.map((e) => e.conflictRoomEvents.selection!.value)).toEqual(streams[0]!.map((e) => e.conflictRoomEvents.selection!.value));
    }
    const final = (await mutate<{ conflictRoom: RoomData }>(b.url, alice, ROOM_QUERY, { tx })).conflictRoom;
    const last = streams[0]![49]!.conflictRoomEvents;
    expect(final.version).toBe(54);
    expect(final.selections).toMatchObject([{ field: 'price', value: last.selection!.value, version: 54 }]);
    expect(new Set(streams[0]!.map((e) => e.conflictRoomEvents.selection!.value)).size).toBe(50);

    await Promise.all(clients.map((c) => c.dispose()));
    await eventually(async () => (await numsub(tx)) === 0, 5000, 'PUBSUB NUMSUB back to 0');
  });

  it('presence spans instances: online while any instance holds a subscription', async () => {
    const tx = 'presence-1';
    await mutate(a.url, alice, JOIN, { tx });
    const onA = wsClient(a.wsUrl, alice);
    const watch = wsClient(b.wsUrl, bob);
    const events = new Subscription<EventsResult>(watch, EVENTS, { tx, after: 1 });
    const subA = new Subscription<EventsResult>(onA, EVENTS, { tx, after: 1 });
    expect((await events.take(1))[0]!.conflictRoomEvents).toMatchObject({ __typename: 'PresenceChanged', version: 2, userId: 'alice', participant: { userId: 'alice', online: true } });

    const onB = wsClient(b.wsUrl, alice);
    const subB = new Subscription<EventsResult>(onB, EVENTS, { tx, after: 2 });
    // Both instances hold her in the room's presence hash (n: how many instances hold the user).
    await eventually(async () => (await redis.hget(`${cluster.prefix}{${tx}}:presence`, 'n:alice')) === '2', 5000, 'both instances recorded');
    subA.unsubscribe();
    await onA.dispose();
    await mutate(b.url, alice, SELECT, { tx, field: 'price', value: '1' });
    // Closing A's subscription made no event: the next one is the select.
    expect((await events.take(1))[0]!.conflictRoomEvents).toMatchObject({ __typename: 'FieldSelected', version: 3 });
    subB.unsubscribe();
    await onB.dispose();
    expect((await events.take(1))[0]!.conflictRoomEvents).toMatchObject({ __typename: 'PresenceChanged', version: 4, participant: { userId: 'alice', online: false } });
    const room = (await mutate<{ conflictRoom: RoomData }>(a.url, bob, ROOM_QUERY, { tx })).conflictRoom;
    expect(room.participants).toMatchObject([{ userId: 'alice', online: false }]);
    await watch.dispose();
  });
});
