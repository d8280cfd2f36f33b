/** The rules of SEMANTICS.md through the real server: conflicts, readiness, resolution, every input rule. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { mutate, post, Subscription, type User, wsClient } from '../utils/clients.js';
import { CLEAR, EVENTS, type EventsResult, JOIN, LEAVE, ROOM_QUERY, type RoomData, SELECT, SET_READY } from '../utils/operations.js';
import { startCluster, startServer, type TestServer } from '../utils/server.js';

const alice = { userId: 'alice', userName: 'Alice' };
const bob = { userId: 'bob', userName: 'Bob' };
const carol = { userId: 'carol', userName: 'Carol' };

let cluster: Awaited<ReturnType<typeof startCluster>>;
let server: TestServer;
beforeAll(async () => {
  cluster = await startCluster(inject('redisUrl'), 1, { MAX_PARTICIPANTS_PER_ROOM: '3', MAX_FIELDS_PER_ROOM: '3' });
  server = cluster.servers[0]!;
});
afterAll(() => cluster?.stop());

const version = async (tx: string) => (await mutate<{ conflictRoom: RoomData }>(server.url, alice, ROOM_QUERY, { tx })).conflictRoom.version;
async function expectError(user: User | null, query: string, variables: Record<string, unknown>, code: string) {
  const result = await post(server.url, user, query, variables);
  expect(result.data ?? null).toBeNull();
  expect(result.errors).toHaveLength(1);
  expect(result.errors![0]!.extensions?.code).toBe(code);
  expect(result.errors![0]!.message.length).toBeGreaterThan(10);
  return result.errors![0]!;
}
async function roomWith(tx: string, ...users: User[]) {
  for (const user of users) await mutate(server.url, user, JOIN, { tx });
}

describe('expectedVersion', () => {
  it('succeeds on the current version, fails with VERSION_CONFLICT and currentVersion otherwise, writing nothing', async () => {
    const tx = 'expected-1';
    await roomWith(tx, alice, bob);
    const created = await mutate<{ selectField: RoomData }>(server.url, alice, SELECT, { tx, field: 'price', value: '100', expected: 0 });
    expect(created.selectField.selections).toMatchObject([{ field: 'price', value: '100', version: 3 }]);
    const error = await expectError(bob, SELECT, { tx, field: 'price', value: '90', expected: 0 }, 'VERSION_CONFLICT');
    expect(error.extensions?.currentVersion).toBe(3);
    // The check comes first: even a write that would change nothing fails.
    await expectError(bob, SELECT, { tx, field: 'price', value: '100', expected: 1 }, 'VERSION_CONFLICT');
    await expectError(bob, CLEAR, { tx, field: 'price', expected: 2 }, 'VERSION_CONFLICT');
    expect(await version(tx)).toBe(3);
    const updated = await mutate<{ selectField: RoomData }>(server.url, bob, SELECT, { tx, field: 'price', value: '90', expected: 3 });
    expect(updated.selectField.selections).toMatchObject([{ value: '90', userId: 'bob', version: 4 }]);
    const cleared = await mutate<{ clearField: RoomData }>(server.url, alice, CLEAR, { tx, field: 'price', expected: 4 });
    expect(cleared.clearField).toMatchObject({ version: 5, selections: [] });
  });
});

describe('readiness and resolution', () => {
  it('a selection resets readiness; all ready resolves in two events; a resolved room is final', async () => {
    const tx = 'ready-1';
    await roomWith(tx, alice, bob);
    const watcher = wsClient(server.wsUrl, carol);
    const events = new Subscription<EventsResult>(watcher, EVENTS, { tx, after: 2 });

    const ready = await mutate<{ setReady: RoomData }>(server.url, alice, SET_READY, { tx, ready: true });
    expect(ready.setReady).toMatchObject({ version: 3, status: 'OPEN', allReady: false, participants: [{ userId: 'alice', isReady: true }, { userId: 'bob', isReady: false }] });
    const reset = await mutate<{ selectField: RoomData }>(server.url, bob, SELECT, { tx, field: 'price', value: '45000' });
    expect(reset.selectField.participants.map((p) => p.isReady)).toEqual([false, false]);
    // Setting readiness to what it is makes no event.
    expect((await mutate<{ setReady: RoomData }>(server.url, bob, SET_READY, { tx, ready: false })).setReady.version).toBe(4);

    await mutate(server.url, alice, SET_READY, { tx, ready: true });
    const resolved = await mutate<{ setReady: RoomData }>(server.url, bob, SET_READY, { tx, ready: true });
    expect(resolved.setReady).toMatchObject({ version: 7, status: 'RESOLVED', allReady: true });
    expect(resolved.setReady.resolvedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const stream = (await events.take(5)).map((e) => e.conflictRoomEvents);
    expect(stream.map((e) => [e.__typename, e.version])).toEqual([
      ['ReadinessChanged', 3],
      ['FieldSelected', 4],
      ['ReadinessChanged', 5],
      ['ReadinessChanged', 6],
      ['RoomResolved', 7],
    ]);
    expect(stream[1]!.readinessReset).toBe(true);
    expect(stream[4]!.room).toEqual({ version: 7, status: 'RESOLVED', allReady: true, selections: [{ field: 'price', value: '45000' }] });

    await expectError(alice, SELECT, { tx, field: 'price', value: '1' }, 'ROOM_RESOLVED');
    await expectError(alice, CLEAR, { tx, field: 'price' }, 'ROOM_RESOLVED');
    await expectError(alice, SET_READY, { tx, ready: false }, 'ROOM_RESOLVED');
    expect(await version(tx)).toBe(7);
    await watcher.dispose();
  });

  it('one participant alone never resolves; a leaver stops counting but keeps their selections', async () => {
    const tx = 'ready-2';
    await roomWith(tx, alice);
    expect((await mutate<{ setReady: RoomData }>(server.url, alice, SET_READY, { tx, ready: true })).setReady.status).toBe('OPEN');
    await roomWith(tx, bob, carol);
    await mutate(server.url, carol, SELECT, { tx, field: 'condition', value: 'Used' });
    await mutate(server.url, alice, SET_READY, { tx, ready: true });
    await mutate(server.url, bob, SET_READY, { tx, ready: true });
    const left = await mutate<{ leaveConflictRoom: RoomData }>(server.url, carol, LEAVE, { tx });
    expect(left.leaveConflictRoom).toMatchObject({
      status: 'RESOLVED',
      participants: [{ userId: 'alice' }, { userId: 'bob' }],
      selections: [{ field: 'condition', value: 'Used', userId: 'carol' }],
    });
    await expectError(carol, LEAVE, { tx }, 'NOT_A_PARTICIPANT');
  });
});

describe('requestId', () => {
  it('a retried select makes no new event and cannot overwrite a newer pick', async () => {
    const tx = 'retry-1';
    await roomWith(tx, alice, bob);
    const first = await mutate<{ selectField: RoomData }>(server.url, alice, SELECT, { tx, field: 'price', value: '100', requestId: 'r-1' });
    expect(first.selectField.version).toBe(3);
    await mutate(server.url, bob, SELECT, { tx, field: 'price', value: '200' });
    const retry = await mutate<{ selectField: RoomData }>(server.url, alice, SELECT, { tx, field: 'price', value: '100', requestId: 'r-1' });
    expect(retry.selectField).toMatchObject({ version: 4, selections: [{ value: '200', userId: 'bob' }] });
    // A retry of a conditional write that succeeded is not a conflict.
    await mutate(server.url, alice, CLEAR, { tx, field: 'price', expected: 4, requestId: 'r-2' });
    const retriedClear = await mutate<{ clearField: RoomData }>(server.url, alice, CLEAR, { tx, field: 'price', expected: 4, requestId: 'r-2' });
    expect(retriedClear.clearField.version).toBe(5);
    // The same requestId from another user is another request.
    expect((await mutate<{ selectField: RoomData }>(server.url, bob, SELECT, { tx, field: 'price', value: '7', requestId: 'r-1' })).selectField.version).toBe(6);
  });
});

describe('errors', () => {
  it('every input rule has its code and writes nothing', async () => {
    const tx = 'input-1';
    await roomWith(tx, alice);
    const before = await version(tx);
    await expectError(alice, ROOM_QUERY, { tx: 'bad id!' }, 'BAD_USER_INPUT');
    await expectError(alice, ROOM_QUERY, { tx: 'x'.repeat(129) }, 'BAD_USER_INPUT');
    await expectError(alice, JOIN, { tx: '' }, 'BAD_USER_INPUT');
    await expectError(alice, SELECT, { tx, field: '1price', value: 'v' }, 'BAD_USER_INPUT');
    await expectError(alice, SELECT, { tx, field: 'f'.repeat(65), value: 'v' }, 'BAD_USER_INPUT');
    await expectError(alice, SELECT, { tx, field: 'pri ce', value: 'v' }, 'BAD_USER_INPUT');
    await expectError(alice, SELECT, { tx, field: 'price', value: 'v'.repeat(1025) }, 'BAD_USER_INPUT');
    await expectError(alice, SELECT, { tx, field: 'price', value: 'v', expected: -1 }, 'BAD_USER_INPUT');
    await expectError(alice, CLEAR, { tx, field: '' }, 'BAD_USER_INPUT');
    await expectError(bob, JOIN, { tx, name: '   ' }, 'BAD_USER_INPUT');
    await expectError(bob, JOIN, { tx, name: 'n'.repeat(65) }, 'BAD_USER_INPUT');
    await expectError(bob, JOIN, { tx, name: 'bad\u0007name' }, 'BAD_USER_INPUT');
    expect(await version(tx)).toBe(before);
    // Boundaries that are allowed.
    await mutate(server.url, alice, SELECT, { tx, field: `a${'b'.repeat(63)}`, value: 'v'.repeat(1024) });
    await mutate(server.url, alice, SELECT, { tx, field: 'empty', value: '' });
    expect((await mutate<{ joinConflictRoom: RoomData }>(server.url, bob, JOIN, { tx, name: '  Bob  ' })).joinConflictRoom.participants[1]!.name).toBe('Bob');
  });

  it('graphql errors (variables, validation, syntax) carry BAD_USER_INPUT and their reason', async () => {
    const overflow = await post(server.url, alice, SELECT, { tx: 'codes-0', field: 'price', value: '1', expected: 2 ** 31 });
    expect(overflow.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    const unknown = await post(server.url, alice, '{ nope }');
    expect(unknown.errors?.map((e) => [e.extensions?.code, e.extensions?.reason])).toEqual([['BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED']]);
    const badVariable = await post(server.url, alice, ROOM_QUERY, { tx: { not: 'an id' } });
    expect(badVariable.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    const missing = await post(server.url, alice, ROOM_QUERY, {});
    expect(missing.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    const syntax = await post(server.url, alice, '{ conflictRoom(');
    expect(syntax.errors?.map((e) => [e.extensions?.code, e.extensions?.reason])).toEqual([['BAD_USER_INPUT', 'GRAPHQL_PARSE_FAILED']]);
  });

  it('a document with two queries runs the one named, each time', async () => {
    await roomWith('codes-4', alice);
    const document = 'query A { conflictRoom(transactionId: "codes-4") { version } } query B { conflictRoom(transactionId: "codes-4") { status } }';
    const run = async (operationName: string) => {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': 'alice' },
        body: JSON.stringify({ query: document, operationName }),
      });
      return (await response.json()) as unknown;
    };
    expect(await run('A')).toEqual({ data: { conflictRoom: { version: 1 } } });
    expect(await run('B')).toEqual({ data: { conflictRoom: { status: 'OPEN' } } });
    expect(await run('A')).toEqual({ data: { conflictRoom: { version: 1 } } });
  });

  it('a name header with a control character does not block joining: the user id stands in', async () => {
    const result = await post<{ joinConflictRoom: RoomData }>(server.url, { userId: 'tabby', userName: 'A\tB' }, JOIN, { tx: 'codes-3' });
    expect(result.errors).toBeUndefined();
    expect(result.data!.joinConflictRoom.participants).toMatchObject([{ userId: 'tabby', name: 'tabby' }]);
  });

  it('UNAUTHENTICATED, FORBIDDEN, NOT_A_PARTICIPANT, LIMIT_EXCEEDED', async () => {
    const tx = 'codes-1';
    await expectError(null, JOIN, { tx }, 'UNAUTHENTICATED');
    const narrowed = await post(server.url, null, ROOM_QUERY, { tx });
    expect(narrowed.errors![0]!.extensions?.code).toBe('UNAUTHENTICATED');
    const forbidden = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': 'eve', 'x-user-transactions': 'other-tx' },
      body: JSON.stringify({ query: ROOM_QUERY, variables: { tx } }),
    });
    expect(((await forbidden.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe('FORBIDDEN');
    await expectError(alice, SELECT, { tx, field: 'price', value: '1' }, 'NOT_A_PARTICIPANT');
    await expectError(alice, SET_READY, { tx, ready: true }, 'NOT_A_PARTICIPANT');
    await roomWith(tx, alice, bob, carol);
    const full = await expectError({ userId: 'dave' }, JOIN, { tx }, 'LIMIT_EXCEEDED');
    expect(full.extensions?.limit).toBe(3);
    for (const field of ['a', 'b', 'c']) await mutate(server.url, alice, SELECT, { tx, field, value: '1' });
    await expectError(alice, SELECT, { tx, field: 'd', value: '1' }, 'LIMIT_EXCEEDED');
    // Changing a field that has a value is still allowed at the limit.
    await mutate(server.url, alice, SELECT, { tx, field: 'a', value: '2' });
    expect(await version(tx)).toBe(7);
  });

  it('a subscription without credentials gets UNAUTHENTICATED, not a closed socket', async () => {
    const client = wsClient(server.wsUrl, null);
    const sub = new Subscription(client, EVENTS, { tx: 'codes-2' });
    const result = await sub.next();
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    await client.dispose();
  });
});

describe('rate limit', () => {
  it('too many changes from one user get RATE_LIMITED with retryAfterMs', async () => {
    const limited = await startServer({ RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '3' });
    try {
      const tx = 'rate-1';
      await post(limited.url, alice, JOIN, { tx });
      await post(limited.url, alice, SELECT, { tx, field: 'a', value: '1' });
      await post(limited.url, alice, SELECT, { tx, field: 'a', value: '2' });
      const refused = await post(limited.url, alice, SELECT, { tx, field: 'a', value: '3' });
      expect(refused.errors![0]!.extensions?.code).toBe('RATE_LIMITED');
      expect(refused.errors![0]!.extensions?.retryAfterMs).toBeGreaterThan(0);
      // Another user is not limited by Alice's use.
      expect((await post(limited.url, bob, JOIN, { tx })).errors).toBeUndefined();
      // Opening subscriptions counts too: each may write presence.
      const client = wsClient(limited.wsUrl, bob);
      const codes: unknown[] = [];
      for (let i = 0; i < 4; i++) {
        const sub = new Subscription(client, EVENTS, { tx });
        const first = await Promise.race([sub.next(1000), new Promise((resolve) => setTimeout(() => resolve(null), 300))]);
        codes.push((first as { errors?: Array<{ extensions?: { code?: string } }> } | null)?.errors?.[0]?.extensions?.code ?? 'open');
        sub.unsubscribe();
      }
      expect(codes).toEqual(['open', 'open', 'RATE_LIMITED', 'RATE_LIMITED']);
      await client.dispose();
    } finally {
      await limited.stop();
    }
  });
});
