/** A late joiner, a refreshed page: every client ends with the state everyone else sees. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { mutate, post, Subscription, wsClient } from '../utils/clients.js';
import { EVENTS, type EventsResult, JOIN, ROOM_QUERY, type RoomData, SELECT } from '../utils/operations.js';
import { startCluster, type TestServer } from '../utils/server.js';

const alice = { userId: 'alice', userName: 'Alice' };
const bob = { userId: 'bob', userName: 'Bob' };
const carol = { userId: 'carol', userName: 'Carol' };

let cluster: Awaited<ReturnType<typeof startCluster>>;
let server: TestServer;
beforeAll(async () => {
  cluster = await startCluster(inject('redisUrl'), 1);
  server = cluster.servers[0]!;
});
afterAll(() => cluster?.stop());

const room = async (user: { userId: string }, tx: string) =>
  (await mutate<{ conflictRoom: RoomData }>(server.url, user, ROOM_QUERY, { tx })).conflictRoom;

describe('late joiner', () => {
  it('sees every selection made before joining, with its author, and ends equal to everyone', async () => {
    const tx = 'late-joiner-1';
    await mutate(server.url, alice, JOIN, { tx });
    await mutate(server.url, alice, SELECT, { tx, field: 'productType', value: 'iPhone 13' });
    await mutate(server.url, alice, SELECT, { tx, field: 'condition', value: 'Like New' });
    await mutate(server.url, alice, SELECT, { tx, field: 'price', value: '45000' });

    const joined = (await mutate<{ joinConflictRoom: RoomData }>(server.url, bob, JOIN, { tx })).joinConflictRoom;
    expect(joined.version).toBe(5);
    expect(joined.selections.map((s) => [s.field, s.value, s.userId, s.userName, s.version])).toEqual([
      ['condition', 'Like New', 'alice', 'Alice', 3],
      ['price', '45000', 'alice', 'Alice', 4],
      ['productType', 'iPhone 13', 'alice', 'Alice', 2],
    ]);
    expect(joined.participants.map((p) => p.userId)).toEqual(['alice', 'bob']);

    await mutate(server.url, bob, SELECT, { tx, field: 'meetingLocation', value: 'SM Mall' });
    await mutate(server.url, carol, JOIN, { tx });

    const [a, b, c] = await Promise.all([room(alice, tx), room(bob, tx), room(carol, tx)]);
    expect(a.version).toBe(7);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(a.selections.map((s) => `${s.field}=${s.value}@${s.userId}`)).toEqual([
      'condition=Like New@alice',
      'meetingLocation=SM Mall@bob',
      'price=45000@alice',
      'productType=iPhone 13@alice',
    ]);
    expect(a.participants.map((p) => p.userId)).toEqual(['alice', 'bob', 'carol']);
  });

  it('an untouched room is empty at version 0 and OPEN', async () => {
    const untouched = await room(carol, 'never-touched-1');
    expect(untouched).toMatchObject({ id: 'never-touched-1', version: 0, status: 'OPEN', allReady: false, resolvedAt: null, selections: [], participants: [] });
    expect(untouched.epoch).not.toBe('');
  });
});

describe('refresh', () => {
  it('a new connection as the same user finds everything and is still a participant', async () => {
    const tx = 'refresh-1';
    const first = wsClient(server.wsUrl, alice);
    const joined = await first.iterate({ query: JOIN, variables: { tx } }).next();
    expect(joined.value?.errors).toBeUndefined();
    const events = new Subscription<EventsResult>(first, EVENTS, { tx, after: 1 });
    const online = await events.take(1);
    expect(online[0]!.conflictRoomEvents).toMatchObject({ __typename: 'PresenceChanged', version: 2, participant: { userId: 'alice', online: true } });
    const fields = { productType: 'iPhone 13', condition: 'Like New', price: '45000', quantity: '1', meetingLocation: 'SM Mall' };
    for (const [field, value] of Object.entries(fields)) {
      // Mutations over the open WebSocket, as a browser tab would send them.
      const result = await first.iterate({ query: SELECT, variables: { tx, field, value } }).next();
      expect(result.value?.errors).toBeUndefined();
    }
    expect((await events.take(5)).map((e) => e.conflictRoomEvents.version)).toEqual([3, 4, 5, 6, 7]);
    await first.dispose();

    // The page reloads: a new connection, a query, a new subscription.
    const second = wsClient(server.wsUrl, alice);
    const reloaded = (await second.iterate({ query: ROOM_QUERY, variables: { tx } }).next()).value?.data?.conflictRoom as RoomData;
    expect(Object.fromEntries(reloaded.selections.map((s) => [s.field, s.value]))).toEqual(fields);
    expect(reloaded.participants.map((p) => p.userId)).toEqual(['alice']);
    const resumed = new Subscription<EventsResult>(second, EVENTS, { tx, after: reloaded.version, epoch: reloaded.epoch });
    const next = (await resumed.take(1))[0]!.conflictRoomEvents;
    // Whether the old socket's offline event landed before the reload's query decides which comes next;
    // either way it is the very next version and Alice ends online.
    expect(next.version).toBe(reloaded.version + 1);
    expect(next).toMatchObject({ __typename: 'PresenceChanged', participant: { userId: 'alice' } });
    if (next.participant?.online === false) {
      expect((await resumed.take(1))[0]!.conflictRoomEvents).toMatchObject({ version: reloaded.version + 2, participant: { online: true } });
    }
    const after = await room(bob, tx);
    expect(after.participants).toMatchObject([{ userId: 'alice', online: true }]);
    resumed.unsubscribe();
    await second.dispose();
  });

  it('the same rooms answer over HTTP GET', async () => {
    await mutate(server.url, alice, JOIN, { tx: 'get-1' });
    await mutate(server.url, alice, SELECT, { tx: 'get-1', field: 'price', value: '1' });
    const url = `${server.url}?query=${encodeURIComponent('query($tx: ID!) { conflictRoom(transactionId: $tx) { version } }')}&variables=${encodeURIComponent(JSON.stringify({ tx: 'get-1' }))}`;
    const response = await fetch(url, { headers: { 'x-user-id': 'bob' } });
    expect(await response.json()).toEqual({ data: { conflictRoom: { version: 2 } } });
    const anonymous = await post(server.url, null, ROOM_QUERY, { tx: 'get-1' });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
