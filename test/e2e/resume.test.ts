/** A client whose network blinked resumes from the last version it saw: no gap, no duplicate. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { mutate, Subscription, wsClient } from '../utils/clients.js';
import { EVENTS, type EventsResult, JOIN, ROOM_QUERY, type RoomData, SELECT } from '../utils/operations.js';
import { startCluster, type TestServer } from '../utils/server.js';

const alice = { userId: 'alice', userName: 'Alice' };
const bob = { userId: 'bob', userName: 'Bob' };

let cluster: Awaited<ReturnType<typeof startCluster>>;
let server: TestServer;
beforeAll(async () => {
  cluster = await startCluster(inject('redisUrl'), 1, { EVENT_LOG_LENGTH: '5' });
  server = cluster.servers[0]!;
});
afterAll(() => cluster?.stop());

const select = (tx: string, field: string, value: string, user = alice) => mutate(server.url, user, SELECT, { tx, field, value });
const versions = (events: EventsResult[]) => events.map((e) => e.conflictRoomEvents.version);

describe('network blip', () => {
  it('resuming with afterVersion yields exactly the missed events, then live ones', async () => {
    const tx = 'blip-1';
    await mutate(server.url, alice, JOIN, { tx });
    const watcher = wsClient(server.wsUrl, bob);
    const first = new Subscription<EventsResult>(watcher, EVENTS, { tx, after: 0 });
    expect(versions(await first.take(1))).toEqual([1]);
    await select(tx, 'price', '100');
    const [seen] = await first.take(1);
    const v = seen!.conflictRoomEvents.version;
    expect(v).toBe(2);
    await watcher.dispose(); // the network drops

    for (let i = 1; i <= 5; i++) await select(tx, 'price', String(100 + i));

    const back = wsClient(server.wsUrl, bob);
    const resumed = new Subscription<EventsResult>(back, EVENTS, { tx, after: v });
    const missed = await resumed.take(5);
    expect(versions(missed)).toEqual([3, 4, 5, 6, 7]);
    expect(missed.map((e) => e.conflictRoomEvents.selection?.value)).toEqual(['101', '102', '103', '104', '105']);
    await select(tx, 'condition', 'Like New');
    const [live] = await resumed.take(1);
    expect(live!.conflictRoomEvents).toMatchObject({ __typename: 'FieldSelected', version: 8, selection: { field: 'condition', value: 'Like New' } });
    await expect(resumed.next(300)).rejects.toThrow(/no subscription result/);
    await back.dispose();
  });

  it('hands over from the log to live events while writes keep coming', async () => {
    const tx = 'blip-2';
    await mutate(server.url, alice, JOIN, { tx });
    let tenWritten!: () => void;
    const started = new Promise<void>((resolve) => (tenWritten = resolve));
    const writes = (async () => {
      for (let i = 0; i < 60; i++) {
        await select(tx, 'quantity', String(i));
        if (i === 9) tenWritten();
      }
    })();
    await started;
    const current = (await mutate<{ conflictRoom: RoomData }>(server.url, bob, ROOM_QUERY, { tx })).conflictRoom.version;
    const client = wsClient(server.wsUrl, bob);
    const sub = new Subscription<EventsResult>(client, EVENTS, { tx, after: current });
    await writes;
    const expected = Array.from({ length: 61 - current }, (_, i) => current + 1 + i);
    const got = versions(await sub.take(expected.length));
    expect(got).toEqual(expected);
    await expect(sub.next(300)).rejects.toThrow(/no subscription result/);
    await client.dispose();
  });

  it('without afterVersion, only events from now on', async () => {
    const tx = 'live-only-1';
    await mutate(server.url, alice, JOIN, { tx });
    await select(tx, 'price', '1');
    await mutate(server.url, bob, JOIN, { tx });
    const client = wsClient(server.wsUrl, bob);
    const sub = new Subscription<EventsResult>(client, EVENTS, { tx });
    // Bob's own subscription makes him online: the first event, and proof that the stream is live.
    expect((await sub.take(1))[0]!.conflictRoomEvents).toMatchObject({ __typename: 'PresenceChanged', version: 4, participant: { userId: 'bob', online: true } });
    await select(tx, 'price', '2');
    expect((await sub.take(1))[0]!.conflictRoomEvents).toMatchObject({ version: 5, selection: { value: '2' } });
    await client.dispose();
  });
});

describe('RoomSnapshot', () => {
  it('is sent when the log no longer reaches back, then live events follow', async () => {
    const tx = 'trimmed-1';
    await mutate(server.url, alice, JOIN, { tx });
    // Redis trims streams approximately (whole nodes of 100 entries): write well past that.
    for (let i = 0; i < 260; i++) await select(tx, 'price', String(i));
    const client = wsClient(server.wsUrl, bob);
    const sub = new Subscription<EventsResult>(client, EVENTS, { tx, after: 1 });
    const [snapshot] = await sub.take(1);
    expect(snapshot!.conflictRoomEvents).toMatchObject({
      __typename: 'RoomSnapshot',
      version: 261,
      userId: null,
      room: { version: 261, selections: [{ field: 'price', value: '259' }], participants: [{ userId: 'alice' }] },
    });
    await select(tx, 'price', 'live');
    expect((await sub.take(1))[0]!.conflictRoomEvents).toMatchObject({ version: 262, selection: { value: 'live' } });
    await client.dispose();
  });

  it('is sent for another epoch or a version the room never had', async () => {
    const tx = 'epoch-1';
    const joined = (await mutate<{ joinConflictRoom: RoomData }>(server.url, alice, JOIN, { tx })).joinConflictRoom;
    await select(tx, 'price', '5');
    const client = wsClient(server.wsUrl, bob);
    const otherEpoch = new Subscription<EventsResult>(client, EVENTS, { tx, after: 1, epoch: 'some-other-history' });
    expect((await otherEpoch.take(1))[0]!.conflictRoomEvents).toMatchObject({ __typename: 'RoomSnapshot', version: 2, room: { epoch: joined.epoch } });
    const sameEpoch = new Subscription<EventsResult>(client, EVENTS, { tx, after: 1, epoch: joined.epoch });
    expect((await sameEpoch.take(1))[0]!.conflictRoomEvents).toMatchObject({ __typename: 'FieldSelected', version: 2 });
    const ahead = new Subscription<EventsResult>(client, EVENTS, { tx, after: 50 });
    expect((await ahead.take(1))[0]!.conflictRoomEvents).toMatchObject({ __typename: 'RoomSnapshot', version: 2 });
    await client.dispose();
  });
});
