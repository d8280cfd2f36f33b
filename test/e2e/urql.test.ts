/**
 * @urql/core 6 against the real server, as an app would wire it: fetchExchange (HTTP, dev identity
 * headers) for queries and mutations, subscriptionExchange -> graphql-ws for subscriptions, and the
 * SDK's typed documents.
 */
import { Client, CombinedError, fetchExchange, type OperationResult, subscriptionExchange } from '@urql/core';
import { type Client as WsClient, createClient as createWsClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import {
  ConflictRoomDocument,
  ConflictRoomEventsDocument,
  type ConflictRoomEventsSubscription,
  JoinConflictRoomDocument,
  SelectFieldDocument,
} from '../../src/sdk/index.js';
import { startCluster, type TestServer } from '../utils/server.js';

interface User {
  userId: string;
  userName: string;
}
const alice: User = { userId: 'alice', userName: 'Alice' };
const bob: User = { userId: 'bob', userName: 'Bob' };
const carol: User = { userId: 'carol', userName: 'Carol' };

let cluster: Awaited<ReturnType<typeof startCluster>>;
let server: TestServer;
const opened: WsClient[] = [];

beforeAll(async () => {
  cluster = await startCluster(inject('redisUrl'), 1);
  server = cluster.servers[0]!;
});
afterAll(async () => {
  await Promise.all(opened.map((ws) => ws.dispose()));
  await cluster?.stop();
});

/** `METHOD operationName` of every HTTP request any urql client sent. */
const sent: string[] = [];
const recordingFetch: typeof fetch = (input, init) => {
  const url = new URL(String(input));
  const name = init?.method === 'GET' ? url.searchParams.get('operationName') : (JSON.parse(String(init?.body)) as { operationName?: string }).operationName;
  sent.push(`${init?.method} ${name}`);
  return fetch(input, init);
};

/** One urql client per user: HTTP for queries and mutations, graphql-ws for subscriptions. */
function urqlClient(user: User): Client {
  const ws = createWsClient({
    url: server.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { userId: user.userId, userName: user.userName },
    retryAttempts: 0,
    lazy: true,
  });
  opened.push(ws);
  return new Client({
    url: server.url,
    fetchOptions: { headers: { 'x-user-id': user.userId, 'x-user-name': user.userName } },
    fetch: recordingFetch,
    // No cacheExchange: every query goes to the server.
    requestPolicy: 'network-only',
    exchanges: [
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? '' };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
}

/** Results of an urql subscription, queued; `next()` fails loudly when none arrives in time. */
class Results<T> {
  private readonly queue: OperationResult<T>[] = [];
  private wake: (() => void) | undefined;
  readonly unsubscribe: () => void;

  constructor(source: { subscribe(onResult: (result: OperationResult<T>) => void): { unsubscribe(): void } }) {
    const subscription = source.subscribe((result) => {
      this.queue.push(result);
      this.wake?.();
    });
    this.unsubscribe = () => subscription.unsubscribe();
  }

  async next(timeoutMs = 5000): Promise<OperationResult<T>> {
    if (this.queue.length === 0) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no subscription result within ${timeoutMs} ms`)), timeoutMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      }).finally(() => (this.wake = undefined));
    }
    return this.queue.shift()!;
  }

  async nextData(timeoutMs = 5000): Promise<T> {
    const result = await this.next(timeoutMs);
    if (result.error) throw new Error(`subscription error: ${result.error.message}`);
    return result.data!;
  }
}

describe('urql', () => {
  it('joins, queries, subscribes from the room version and receives another user\'s selection', async () => {
    const tx = 'urql-1';
    const a = urqlClient(alice);
    const b = urqlClient(bob);

    const joined = await a.mutation(JoinConflictRoomDocument, { transactionId: tx }).toPromise();
    expect(joined.error).toBeUndefined();
    expect(joined.data?.joinConflictRoom).toMatchObject({ id: tx, version: 1, participants: [{ id: `${tx}:alice`, userId: 'alice', name: 'Alice' }] });
    const bobJoined = await b.mutation(JoinConflictRoomDocument, { transactionId: tx }).toPromise();
    expect(bobJoined.error).toBeUndefined();

    sent.length = 0;
    const queried = await a.query(ConflictRoomDocument, { transactionId: tx }).toPromise();
    expect(queried.error).toBeUndefined();
    // urql 6 sends queries as GET when the URL is short enough (preferGetMethod 'within-url-limit'); the headers go along.
    expect(sent).toEqual(['GET ConflictRoom']);
    const room = queried.data!.conflictRoom;
    expect(room).toMatchObject({ id: tx, transactionId: tx, version: 2, status: 'OPEN', allReady: false, resolvedAt: null, selections: [] });
    expect(room.participants.map((p) => [p.id, p.userId, p.name, p.isReady, p.online])).toEqual([
      [`${tx}:alice`, 'alice', 'Alice', false, false],
      [`${tx}:bob`, 'bob', 'Bob', false, false],
    ]);

    const events = new Results<ConflictRoomEventsSubscription>(
      a.subscription(ConflictRoomEventsDocument, { transactionId: tx, afterVersion: room.version, epoch: room.epoch }),
    );
    // Alice's own subscription makes her online: the first event after version 2.
    const online = (await events.nextData()).conflictRoomEvents;
    expect(online).toMatchObject({ __typename: 'PresenceChanged', transactionId: tx, version: 3, userId: 'alice', participant: { id: `${tx}:alice`, online: true } });

    const selected = await b.mutation(SelectFieldDocument, { transactionId: tx, field: 'price', value: '45000' }).toPromise();
    expect(selected.error).toBeUndefined();
    expect(selected.data?.selectField.version).toBe(4);
    expect(sent).toEqual(['GET ConflictRoom', 'POST SelectField']);

    const event = (await events.nextData()).conflictRoomEvents;
    if (event.__typename !== 'FieldSelected') throw new Error(`expected FieldSelected, got ${event.__typename}`);
    expect(event).toEqual({
      __typename: 'FieldSelected',
      transactionId: tx,
      version: 4,
      at: event.selection.selectedAt,
      userId: 'bob',
      readinessReset: false,
      // The SDK's documents select __typename everywhere (codegen adds it, so that a client sending a
      // trusted document's hash gets what a cache needs): urql sends them as written.
      selection: {
        __typename: 'FieldSelection',
        id: `${tx}:price`,
        field: 'price',
        value: '45000',
        userId: 'bob',
        userName: 'Bob',
        selectedAt: event.at,
        version: 4,
      },
    });
    expect(new Date(event.at).toISOString()).toBe(event.at);

    events.unsubscribe();
  });

  it('returns errors with extensions.code through CombinedError', async () => {
    const tx = 'urql-errors-1';
    const a = urqlClient(alice);
    const c = urqlClient(carol);
    await a.mutation(JoinConflictRoomDocument, { transactionId: tx }).toPromise();

    // Carol never joined: a mutation error over HTTP.
    const denied = await c.mutation(SelectFieldDocument, { transactionId: tx, field: 'price', value: '1' }).toPromise();
    // The root field is non-null, so the server answers data: null with the error.
    expect(denied.data).toBeNull();
    expect(denied.error).toBeInstanceOf(CombinedError);
    expect(denied.error!.networkError).toBeUndefined();
    expect(denied.error!.graphQLErrors).toHaveLength(1);
    expect(denied.error!.graphQLErrors[0]!.extensions.code).toBe('NOT_A_PARTICIPANT');
    expect(denied.error!.graphQLErrors[0]!.path).toEqual(['selectField']);

    // An argument error, also the same shape.
    const bad = await a.mutation(SelectFieldDocument, { transactionId: tx, field: '1-not-a-field', value: '1' }).toPromise();
    expect(bad.error!.graphQLErrors.map((e) => [e.extensions.code, e.extensions.argumentName])).toEqual([['BAD_USER_INPUT', 'field']]);

    // A subscription error (bad afterVersion) over graphql-ws arrives as a CombinedError result too.
    const events = new Results<ConflictRoomEventsSubscription>(a.subscription(ConflictRoomEventsDocument, { transactionId: tx, afterVersion: -1 }));
    const failed = await events.next();
    expect(failed.error).toBeInstanceOf(CombinedError);
    expect(failed.error!.graphQLErrors.map((e) => [e.extensions.code, e.extensions.argumentName])).toEqual([['BAD_USER_INPUT', 'afterVersion']]);
    events.unsubscribe();

    // Nothing was written by the failures.
    const room = await c.query(ConflictRoomDocument, { transactionId: tx }).toPromise();
    expect(room.data?.conflictRoom).toMatchObject({ version: 1, selections: [] });
  });
});
