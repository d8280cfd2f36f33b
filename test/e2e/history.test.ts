/**
 * conflictRoomHistory and ConflictRoom.agreement over HTTP: the history is exactly what a subscriber
 * from version 0 received, paged; the agreement's digest is what anyone recomputes from its values.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mutate, post, Subscription, wsClient } from '../utils/clients.js';
import { EVENTS, type EventData, type EventsResult, JOIN, LEAVE, SELECT, SET_READY } from '../utils/operations.js';
import { startCluster, type TestServer } from '../utils/server.js';

const alice = { userId: 'alice', userName: 'Alice' };
const bob = { userId: 'bob', userName: 'Bob' };
const carol = { userId: 'carol', userName: 'Carol' };

// The subscription's selection set, as a history query: the same shapes, compared field for field.
const eventFields = EVENTS.slice(EVENTS.indexOf('__typename'), EVENTS.lastIndexOf('}', EVENTS.lastIndexOf('}') - 1));
const HISTORY = `query History($tx: ID!, $after: Int, $first: Int) {
  conflictRoomHistory(transactionId: $tx, afterVersion: $after, first: $first) { transactionId epoch hasMore events { ${eventFields} } }
}`;
const AGREEMENT = `query Agreement($tx: ID!) { conflictRoom(transactionId: $tx) { status version epoch agreement {
  transactionId epoch digest version resolvedAt
  selections { field value userId userName version }
  participants { userId name isReady online }
} } }`;

interface HistoryData {
  conflictRoomHistory: { transactionId: string; epoch: string; hasMore: boolean; events: EventData[] };
}
interface AgreementData {
  conflictRoom: {
    status: string;
    version: number;
    epoch: string;
    agreement: null | {
      transactionId: string;
      epoch: string;
      digest: string;
      version: number;
      resolvedAt: string;
      selections: Array<{ field: string; value: string; userId: string; userName: string; version: number }>;
      participants: Array<{ userId: string; name: string; isReady: boolean; online: boolean }>;
    };
  };
}

let cluster: Awaited<ReturnType<typeof startCluster>>;
let server: TestServer;
beforeAll(async () => {
  // A resume log of 5: the history must reach far past it.
  cluster = await startCluster(inject('redisUrl'), 1, { EVENT_LOG_LENGTH: '5' });
  server = cluster.servers[0]!;
});
afterAll(() => cluster?.stop());

async function wholeHistory(tx: string, first: number, user = carol): Promise<{ epoch: string; events: EventData[]; pages: number }> {
  const events: EventData[] = [];
  let after = 0;
  let epoch = '';
  for (let pages = 1; ; pages++) {
    const page = (await mutate<HistoryData>(server.url, user, HISTORY, { tx, after, first })).conflictRoomHistory;
    expect(page.transactionId).toBe(tx);
    epoch = page.epoch;
    events.push(...page.events);
    after = page.events.at(-1)?.version ?? after;
    if (!page.hasMore) return { epoch, events, pages };
  }
}

describe('conflictRoomHistory', () => {
  it('equals, event for event, what a subscriber from version 0 received', async () => {
    const tx = 'hist-1';
    const watcher = wsClient(server.wsUrl, carol);
    const sub = new Subscription<EventsResult>(watcher, EVENTS, { tx, after: 0 });
    try {
      await mutate(server.url, alice, JOIN, { tx });
      await mutate(server.url, bob, JOIN, { tx });
      for (let i = 1; i <= 8; i++) await mutate(server.url, i % 2 ? alice : bob, SELECT, { tx, field: i % 3 ? 'price' : 'condition', value: `v${i}` });
      await mutate(server.url, carol, JOIN, { tx });
      await mutate(server.url, carol, LEAVE, { tx });
      await mutate(server.url, alice, SET_READY, { tx, ready: true });
      const resolved = await mutate<{ setReady: { version: number; status: string } }>(server.url, bob, SET_READY, { tx, ready: true });
      expect(resolved.setReady).toMatchObject({ version: 15, status: 'RESOLVED' });
      const received = (await sub.take(15)).map((r) => r.conflictRoomEvents);
      expect(received.map((e) => e.version)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
      expect(received.at(-1)?.__typename).toBe('RoomResolved');

      const { epoch, events, pages } = await wholeHistory(tx, 4);
      expect(pages).toBe(4);
      expect(events).toEqual(received);
      expect(epoch).toBe((await mutate<AgreementData>(server.url, carol, AGREEMENT, { tx })).conflictRoom.epoch);
      expect((await wholeHistory(tx, 500)).events).toEqual(received);
    } finally {
      sub.unsubscribe();
      await watcher.dispose();
    }
  });

  it('at or past the room version: no events, hasMore false; an untouched room: none either', async () => {
    const tx = 'hist-2';
    await mutate(server.url, alice, JOIN, { tx });
    await mutate(server.url, alice, SELECT, { tx, field: 'price', value: '1' });
    for (const after of [2, 3, 1000]) {
      const page = (await mutate<HistoryData>(server.url, bob, HISTORY, { tx, after, first: 10 })).conflictRoomHistory;
      expect(page).toMatchObject({ transactionId: tx, events: [], hasMore: false });
    }
    const one = (await mutate<HistoryData>(server.url, bob, HISTORY, { tx, after: 0, first: 1 })).conflictRoomHistory;
    expect([one.events.map((e) => [e.__typename, e.version]), one.hasMore]).toEqual([[['ParticipantJoined', 1]], true]);
    const untouched = (await mutate<HistoryData>(server.url, bob, HISTORY, { tx: 'hist-none' })).conflictRoomHistory;
    expect(untouched).toMatchObject({ transactionId: 'hist-none', events: [], hasMore: false });
    expect(untouched.epoch.length).toBeGreaterThan(0);
  });

  it('refuses a negative afterVersion and a first outside 1 to 500 with BAD_USER_INPUT; FORBIDDEN without the grant', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ after: -1 }, 'afterVersion'],
      [{ first: 0 }, 'first'],
      [{ first: 501 }, 'first'],
      [{ first: -5 }, 'first'],
    ];
    for (const [variables, argumentName] of cases) {
      const result = await post(server.url, alice, HISTORY, { tx: 'hist-3', ...variables });
      expect(result.errors?.map((e) => [e.extensions?.code, e.extensions?.argumentName])).toEqual([['BAD_USER_INPUT', argumentName]]);
    }
    expect((await post(server.url, alice, HISTORY, { tx: 'hist-3', first: 500 })).errors).toBeUndefined();
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': 'mallory', 'x-user-transactions': 'other' },
      body: JSON.stringify({ query: HISTORY, variables: { tx: 'hist-3' } }),
    });
    const forbidden = (await response.json()) as { data: unknown; errors: Array<{ extensions: { code: string } }> };
    expect([forbidden.data, forbidden.errors.map((e) => e.extensions.code)]).toEqual([null, ['FORBIDDEN']]);
  });
});

describe('ConflictRoom.agreement', () => {
  it('is null while OPEN, then the frozen values whose digest the test recomputes; presence and leaves never change it', async () => {
    const tx = 'agree-1';
    await mutate(server.url, bob, JOIN, { tx });
    await mutate(server.url, alice, JOIN, { tx });
    await mutate(server.url, alice, SELECT, { tx, field: 'price', value: '45 000 ₱ "firm"' });
    await mutate(server.url, bob, SELECT, { tx, field: 'condition', value: 'Like New' });
    expect((await mutate<AgreementData>(server.url, carol, AGREEMENT, { tx })).conflictRoom.agreement).toBeNull();
    await mutate(server.url, alice, SET_READY, { tx, ready: true });
    await mutate(server.url, bob, SET_READY, { tx, ready: true });
    const { conflictRoom: room } = await mutate<AgreementData>(server.url, carol, AGREEMENT, { tx });
    const agreement = room.agreement!;
    expect(room).toMatchObject({ status: 'RESOLVED', version: 7 });
    expect(agreement).toMatchObject({
      transactionId: tx,
      epoch: room.epoch,
      version: 7,
      selections: [
        { field: 'condition', value: 'Like New', userId: 'bob', userName: 'Bob', version: 4 },
        { field: 'price', value: '45 000 ₱ "firm"', userId: 'alice', userName: 'Alice', version: 3 },
      ],
      participants: [
        { userId: 'bob', name: 'Bob', isReady: true, online: false },
        { userId: 'alice', name: 'Alice', isReady: true, online: false },
      ],
    });
    // SEMANTICS.md's canonical JSON, written out here by hand rather than with the server's function.
    const canonical =
      `{"transactionId":${JSON.stringify(tx)},"epoch":${JSON.stringify(room.epoch)},"version":7,"resolvedAt":${JSON.stringify(agreement.resolvedAt)},` +
      `"selections":[{"field":"condition","value":"Like New","userId":"bob"},{"field":"price","value":"45 000 ₱ \\"firm\\"","userId":"alice"}],` +
      `"participants":["alice","bob"]}`;
    expect(agreement.digest).toBe(createHash('sha256').update(Buffer.from(canonical, 'utf8')).digest('hex'));

    // Alice comes online after the resolution: a new version, the same agreement.
    const client = wsClient(server.wsUrl, alice);
    const sub = new Subscription<EventsResult>(client, EVENTS, { tx, after: 7 });
    try {
      expect((await sub.take(1))[0]?.conflictRoomEvents).toMatchObject({ __typename: 'PresenceChanged', version: 8, participant: { userId: 'alice', online: true } });
      const after = await mutate<AgreementData>(server.url, carol, AGREEMENT, { tx });
      expect(after.conflictRoom.version).toBe(8);
      expect(after.conflictRoom.agreement).toEqual(agreement);
    } finally {
      sub.unsubscribe();
      await client.dispose();
    }
  });
});
