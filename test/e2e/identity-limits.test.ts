/**
 * Issue 8 on identity: a malformed x-user-transactions header grants nothing, Participant ids are
 * unique however the ids are spelled, and the mutation rate is one budget per user across instances.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mutate, post } from '../utils/clients.js';
import { JOIN, ROOM_QUERY, SELECT } from '../utils/operations.js';
import { rawRequest } from '../utils/raw-http.js';
import { startCluster, startServer, type TestServer } from '../utils/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
});

describe('a malformed grant grants nothing', () => {
  it('an empty (or malformed) x-user-transactions header is FORBIDDEN for every room', async () => {
    const tx = 'grant-1';
    await mutate(server.url, { userId: 'alice', userName: 'Alice' }, JOIN, { tx });
    for (const grant of ['', ' ', ',', `${tx},`, 'not a list']) {
      const response = await rawRequest(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': 'mallory', 'x-user-transactions': grant },
        body: JSON.stringify({ query: ROOM_QUERY, variables: { tx } }),
      });
      expect(response.json, JSON.stringify(grant)).toEqual({
        data: null,
        errors: [{ message: `Your credentials do not grant transaction "${tx}".`, path: ['conflictRoom'], extensions: { code: 'FORBIDDEN' } }],
      });
    }
    const granted = await rawRequest(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': 'mallory', 'x-user-transactions': `other, ${tx}` },
      body: JSON.stringify({ query: ROOM_QUERY, variables: { tx } }),
    });
    expect(granted.json.data.conflictRoom.version).toBe(1);
  });
});

describe('Participant.id', () => {
  it('room "tx:a" + user "b" and room "tx" + user "a:b" get distinct, stable ids', async () => {
    const first = await mutate<{ joinConflictRoom: { participants: Array<{ id: string }> } }>(server.url, { userId: 'b', userName: 'B' }, JOIN, { tx: 'tx:a' });
    const second = await mutate<{ joinConflictRoom: { participants: Array<{ id: string }> } }>(server.url, { userId: 'a:b', userName: 'AB' }, JOIN, { tx: 'tx' });
    expect(first.joinConflictRoom.participants.map((p) => p.id)).toEqual(['tx%3Aa:b']);
    expect(second.joinConflictRoom.participants.map((p) => p.id)).toEqual(['tx:a%3Ab']);
    const again = await post<{ conflictRoom: { participants: Array<{ id: string }> } }>(server.url, { userId: 'b' }, ROOM_QUERY, { tx: 'tx:a' });
    expect(again.data?.conflictRoom.participants.map((p) => p.id)).toEqual(['tx%3Aa:b']);
    // Plain ids read as before.
    const plain = await mutate<{ joinConflictRoom: { participants: Array<{ id: string }> } }>(server.url, { userId: 'alice', userName: 'A' }, JOIN, { tx: 'tx-1' });
    expect(plain.joinConflictRoom.participants.map((p) => p.id)).toEqual(['tx-1:alice']);
  });
});

describe('mutation rate, across instances', () => {
  it('two instances on one Redis share one budget per user: RATE_LIMITED with retryAfterMs on the other instance', async () => {
    const cluster = await startCluster(inject('redisUrl'), 2, { RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '3' });
    try {
      const [a, b] = cluster.servers as [TestServer, TestServer];
      const alice = { userId: 'alice', userName: 'Alice' };
      await mutate(a.url, alice, JOIN, { tx: 'rate-1' });
      await mutate(a.url, alice, SELECT, { tx: 'rate-1', field: 'price', value: '1' });
      await mutate(b.url, alice, SELECT, { tx: 'rate-1', field: 'price', value: '2' });
      const limited = await post(b.url, alice, SELECT, { tx: 'rate-1', field: 'price', value: '3' });
      expect(limited.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
      expect(limited.errors?.[0]?.extensions?.retryAfterMs).toBeGreaterThan(0);
      expect(limited.errors?.[0]?.extensions?.retryAfterMs).toBeLessThanOrEqual(3000);
      // Another user has a budget of their own, and the refused change wrote nothing.
      await mutate(a.url, { userId: 'bob', userName: 'Bob' }, JOIN, { tx: 'rate-1' });
      const room = await post<{ conflictRoom: { version: number; selections: Array<{ value: string }> } }>(a.url, { userId: 'bob' }, ROOM_QUERY, { tx: 'rate-1' });
      expect(room.data?.conflictRoom.selections.map((s) => s.value)).toEqual(['2']);
    } finally {
      await cluster.stop();
    }
  });
});
