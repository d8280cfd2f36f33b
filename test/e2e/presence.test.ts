/**
 * Presence as users make it: several tabs, several sockets, several instances, a watcher who joins
 * later, a participant who leaves while subscribed. Each change the contract names makes exactly one
 * event: a watcher's stream is checked event by event, and a marker write (a select) proves that
 * nothing else came before it.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { Client } from 'graphql-ws';
import { mutate, Subscription, wsClient, type User } from '../utils/clients.js';
import { EVENTS, type EventData, type EventsResult, JOIN, LEAVE, ROOM_QUERY, type RoomData, SELECT } from '../utils/operations.js';
import { startCluster, startServer, type TestServer } from '../utils/server.js';

const alice = { userId: 'alice', userName: 'Alice' };
const bob = { userId: 'bob', userName: 'Bob' };
const watcher = { userId: 'watcher' };

/** A stream of the room's events as a watcher (no presence of its own) sees them. */
function watch(server: TestServer, tx: string, after: number) {
  const client = wsClient(server.wsUrl, watcher);
  const sub = new Subscription<EventsResult>(client, EVENTS, { tx, after });
  return {
    client,
    /** The next event, failing when none comes in time. */
    next: async (timeoutMs = 5000): Promise<EventData> => (await sub.take(1, timeoutMs))[0]!.conflictRoomEvents,
    /** Bob selects a field: the next event must be that select, so nothing came in between. */
    expectNothingBefore: async (url: string, value: string) => {
      const { selectField } = await mutate<{ selectField: RoomData }>(url, bob, SELECT, { tx, field: 'marker', value });
      const event = (await sub.take(1))[0]!.conflictRoomEvents;
      expect(event).toMatchObject({ __typename: 'FieldSelected', version: selectField.version, selection: { value } });
      return selectField.version;
    },
  };
}

async function onlineOf(url: string, tx: string, userId: string): Promise<boolean | undefined> {
  const { conflictRoom } = await mutate<{ conflictRoom: RoomData }>(url, bob, ROOM_QUERY, { tx });
  return conflictRoom.participants.find((p) => p.userId === userId)?.online;
}

function subscribe(client: Client, tx: string, after: number) {
  return new Subscription<EventsResult>(client, EVENTS, { tx, after });
}

/** Waits until the subscription has delivered `version`: it is open and live (its presence is counted). */
async function reached(sub: Subscription<EventsResult>, version: number): Promise<void> {
  for (;;) {
    const event = (await sub.take(1))[0]!.conflictRoomEvents;
    if (event.version >= version) return;
  }
}

const presence = (version: number, userId: string, online: boolean, by: string | null = userId) => ({
  __typename: 'PresenceChanged',
  version,
  userId: by,
  participant: { userId, online },
});

describe('presence on one instance (embedded store)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => server?.stop());

  async function room(tx: string) {
    await mutate(server.url, alice, JOIN, { tx });
    await mutate(server.url, bob, JOIN, { tx });
    return watch(server, tx, 2);
  }

  it('two subscriptions on one socket: online at the first, offline only when the last one closes', async () => {
    const tx = 'presence-one-socket';
    const w = await room(tx);
    const tabs = wsClient(server.wsUrl, alice);
    const first = subscribe(tabs, tx, 2);
    expect(await w.next()).toMatchObject(presence(3, 'alice', true));
    const second = subscribe(tabs, tx, 3);
    await reached(second, await w.expectNothingBefore(server.url, 'a')); // v4: the second tab made no event
    first.unsubscribe();
    await w.expectNothingBefore(server.url, 'b'); // v5: one tab is still open
    expect(await onlineOf(server.url, tx, 'alice')).toBe(true);
    second.unsubscribe();
    expect(await w.next()).toMatchObject(presence(6, 'alice', false));
    expect(await onlineOf(server.url, tx, 'alice')).toBe(false);
    await w.expectNothingBefore(server.url, 'c');
    await tabs.dispose();
    await w.client.dispose();
  });

  it('two sockets (two tabs): closing one keeps her online, closing both takes her offline once', async () => {
    const tx = 'presence-two-sockets';
    const w = await room(tx);
    const tab1 = wsClient(server.wsUrl, alice);
    const tab2 = wsClient(server.wsUrl, alice);
    subscribe(tab1, tx, 2);
    expect(await w.next()).toMatchObject(presence(3, 'alice', true));
    await reached(subscribe(tab2, tx, 3), await w.expectNothingBefore(server.url, 'a'));
    await tab1.dispose();
    await w.expectNothingBefore(server.url, 'b');
    expect(await onlineOf(server.url, tx, 'alice')).toBe(true);
    await tab2.dispose();
    expect(await w.next()).toMatchObject(presence(6, 'alice', false));
    expect(await onlineOf(server.url, tx, 'alice')).toBe(false);
    await w.expectNothingBefore(server.url, 'c');
    await w.client.dispose();
  });

  it('a tab that resubscribes after a reconnect, many times over, ends offline with the last close', async () => {
    const tx = 'presence-resubscribe';
    const w = await room(tx);
    const tab = wsClient(server.wsUrl, alice);
    const subs = [subscribe(tab, tx, 2)];
    expect(await w.next()).toMatchObject(presence(3, 'alice', true));
    let version = 3;
    for (let i = 0; i < 5; i++) {
      const next = subscribe(tab, tx, version);
      version = await w.expectNothingBefore(server.url, `m${i}`);
      await reached(next, version);
      subs.shift()!.unsubscribe();
      subs.push(next);
    }
    version = await w.expectNothingBefore(server.url, 'last');
    subs.shift()!.unsubscribe();
    expect(await w.next()).toMatchObject(presence(version + 1, 'alice', false));
    await tab.dispose();
    await w.client.dispose();
  });

  it('leave while subscribed: she leaves offline, a rejoin while still subscribed is online, the last close takes her offline', async () => {
    const tx = 'presence-leave';
    const w = await room(tx);
    const tab = wsClient(server.wsUrl, alice);
    const sub = subscribe(tab, tx, 2);
    expect(await w.next()).toMatchObject(presence(3, 'alice', true));
    await mutate(server.url, alice, LEAVE, { tx });
    expect(await w.next()).toMatchObject({ __typename: 'ParticipantLeft', version: 4, participant: { userId: 'alice' } });
    const { joinConflictRoom } = await mutate<{ joinConflictRoom: RoomData }>(server.url, alice, JOIN, { tx });
    expect(joinConflictRoom.participants.find((p) => p.userId === 'alice')?.online).toBe(true);
    expect(await w.next()).toMatchObject({ __typename: 'ParticipantJoined', version: 5, participant: { userId: 'alice', online: true } });
    sub.unsubscribe();
    expect(await w.next()).toMatchObject(presence(6, 'alice', false));
    await w.expectNothingBefore(server.url, 'a');
    await tab.dispose();
    await w.client.dispose();
  });
});

describe('presence across two instances (Redis)', () => {
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    cluster = await startCluster(inject('redisUrl'), 2);
    [a, b] = cluster.servers as [TestServer, TestServer];
  });
  afterAll(async () => cluster?.stop());

  it('a subscription on each instance: offline only when both are closed, once', async () => {
    const tx = 'presence-two-instances';
    await mutate(a.url, alice, JOIN, { tx });
    await mutate(a.url, bob, JOIN, { tx });
    const w = watch(b, tx, 2);
    const onA = wsClient(a.wsUrl, alice);
    const onB = wsClient(b.wsUrl, alice);
    subscribe(onA, tx, 2);
    expect(await w.next()).toMatchObject(presence(3, 'alice', true));
    await reached(subscribe(onB, tx, 3), await w.expectNothingBefore(a.url, 'a'));
    await onA.dispose();
    await w.expectNothingBefore(b.url, 'b');
    expect(await onlineOf(a.url, tx, 'alice')).toBe(true);
    await onB.dispose();
    expect(await w.next()).toMatchObject(presence(6, 'alice', false));
    expect(await onlineOf(b.url, tx, 'alice')).toBe(false);
    await w.expectNothingBefore(a.url, 'c');
    await w.client.dispose();
  });

  it('a watcher on A who joins through B is online when the join lands, and goes offline when she closes', async () => {
    const tx = 'presence-watch-then-join';
    await mutate(a.url, bob, JOIN, { tx });
    const w = watch(a, tx, 1);
    const tab = wsClient(a.wsUrl, alice);
    const sub = subscribe(tab, tx, 1);
    await reached(sub, await w.expectNothingBefore(a.url, 'a')); // v2: a watcher has no presence
    const { joinConflictRoom } = await mutate<{ joinConflictRoom: RoomData }>(b.url, alice, JOIN, { tx });
    expect(joinConflictRoom.participants.find((p) => p.userId === 'alice')?.online).toBe(true);
    expect(await w.next()).toMatchObject({ __typename: 'ParticipantJoined', version: 3, participant: { userId: 'alice', online: true } });
    await w.expectNothingBefore(b.url, 'b');
    expect(await onlineOf(a.url, tx, 'alice')).toBe(true);
    sub.unsubscribe();
    expect(await w.next()).toMatchObject(presence(5, 'alice', false));
    expect(await onlineOf(b.url, tx, 'alice')).toBe(false);
    await tab.dispose();
    await w.client.dispose();
  });

  it('a presence record Redis lost (evicted, expired): closing every tab still takes her offline, once', async () => {
    const tx = 'presence-lost-hash';
    await mutate(a.url, alice, JOIN, { tx });
    await mutate(a.url, bob, JOIN, { tx });
    const w = watch(b, tx, 2);
    const onA = wsClient(a.wsUrl, alice);
    const onB = wsClient(b.wsUrl, alice);
    subscribe(onA, tx, 2);
    expect(await w.next()).toMatchObject(presence(3, 'alice', true));
    await reached(subscribe(onB, tx, 3), await w.expectNothingBefore(a.url, 'a'));
    const redis = new Redis(inject('redisUrl'));
    try {
      expect(await redis.del(`${cluster.prefix}{${tx}}:presence`)).toBe(1);
    } finally {
      redis.disconnect();
    }
    await onA.dispose();
    await onB.dispose();
    expect(await w.next()).toMatchObject(presence(5, 'alice', false));
    await w.expectNothingBefore(a.url, 'b');
    expect(await onlineOf(b.url, tx, 'alice')).toBe(false);
    await w.client.dispose();
  });

  it('many tabs on both instances opened and closed at once: one online, one offline, the query agrees', async () => {
    const tx = 'presence-storm';
    await mutate(a.url, alice, JOIN, { tx });
    await mutate(a.url, bob, JOIN, { tx });
    const w = watch(a, tx, 2);
    const clients = [a, b, a, b, a, b].map((server) => wsClient(server.wsUrl, alice as User));
    const subs = clients.flatMap((client) => [subscribe(client, tx, 2), subscribe(client, tx, 2)]);
    expect(await w.next()).toMatchObject(presence(3, 'alice', true));
    const marker = await w.expectNothingBefore(b.url, 'a');
    for (const sub of subs) await reached(sub, marker);
    for (const sub of subs) sub.unsubscribe();
    expect(await w.next()).toMatchObject(presence(5, 'alice', false));
    await w.expectNothingBefore(a.url, 'b');
    expect(await onlineOf(b.url, tx, 'alice')).toBe(false);
    await Promise.all(clients.map((c) => c.dispose()));
    await w.client.dispose();
  });
});
