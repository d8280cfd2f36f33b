/**
 * @apollo/client 4 against the real server: HttpLink for queries and mutations, GraphQLWsLink for
 * subscriptions, one InMemoryCache. Every object carries its `id`, so a subscription event's
 * FieldSelection lands on the same cache entry the room query points at, and the watched room updates
 * without a refetch.
 */
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, type ObservableQuery } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { type Client as WsClient, createClient as createWsClient } from 'graphql-ws';
import { readFileSync } from 'node:fs';
import { buildSchema, isAbstractType, OperationTypeNode } from 'graphql';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it, type MockInstance, vi } from 'vitest';
import WebSocket from 'ws';
import {
  ConflictRoomDocument,
  ConflictRoomEventsDocument,
  type ConflictRoomEventsSubscription,
  type ConflictRoomQuery,
  type ConflictRoomQueryVariables,
  apolloTypePolicies,
  possibleTypes,
} from '../../src/sdk/index.js';
import { mutate } from '../utils/clients.js';
import { JOIN, SELECT } from '../utils/operations.js';
import { startCluster, type TestServer } from '../utils/server.js';

const alice = { userId: 'alice', userName: 'Alice' };
const bob = { userId: 'bob', userName: 'Bob' };

let cluster: Awaited<ReturnType<typeof startCluster>>;
let server: TestServer;
const sockets: WsClient[] = [];
const clients: ApolloClient[] = [];

beforeAll(async () => {
  cluster = await startCluster(inject('redisUrl'), 1);
  server = cluster.servers[0]!;
});
afterAll(async () => {
  for (const client of clients) client.stop();
  await Promise.all(sockets.map((socket) => socket.dispose()));
  await cluster?.stop();
});

/**
 * The SDK's event fragment (`RoomEventFields on ConflictRoomEvent`) is on an interface. Without
 * possibleTypes, InMemoryCache cannot tell that a FieldSelected is a ConflictRoomEvent: it warns
 * "Cannot match fragment", writes only __typename, and the subscription yields `{ __typename }`.
 * The SDK ships them (codegen's fragment matcher), with the type policy events need.
 */
function possibleTypesOf(sdl: string): Record<string, string[]> {
  const schema = buildSchema(sdl);
  return Object.fromEntries(
    Object.values(schema.getTypeMap())
      .filter(isAbstractType)
      .map((type) => [type.name, schema.getPossibleTypes(type).map((t) => t.name)]),
  );
}

/** An Apollo client as `user`; `operations` records the name of every operation sent over HTTP. */
function apolloClient(user: { userId: string; userName: string }) {
  const operations: string[] = [];
  const countingFetch: typeof fetch = (input, init) => {
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as { operationName?: string }) : {};
    operations.push(body.operationName ?? '?');
    return fetch(input, init);
  };
  const http = new HttpLink({ uri: server.url, headers: { 'x-user-id': user.userId, 'x-user-name': user.userName }, fetch: countingFetch });
  const socket = createWsClient({
    url: server.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { userId: user.userId, userName: user.userName },
    retryAttempts: 0,
    lazy: true,
  });
  sockets.push(socket);
  const link = ApolloLink.split(
    ({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION,
    new GraphQLWsLink(socket),
    http,
  );
  const cache = new InMemoryCache({
    possibleTypes,
    // Events have no id: each subscription result replaces the last one under Subscription.conflictRoomEvents.
    // Without this, Apollo warns "Cache data may be lost when replacing the conflictRoomEvents field".
    typePolicies: apolloTypePolicies,
  });
  const client = new ApolloClient({ link, cache });
  clients.push(client);
  return { client, cache, operations };
}

type Room = ConflictRoomQuery['conflictRoom'];

/**
 * Resolves with the room of the first complete result of `query` that satisfies `accept`; rejects
 * (naming what it saw) after timeoutMs. Apollo 4 results carry `dataState` ('empty' while loading,
 * 'partial', 'streaming', 'complete'); only 'complete' types `data` as the whole query.
 */
function waitForRoom(query: ObservableQuery<ConflictRoomQuery, ConflictRoomQueryVariables>, accept: (room: Room) => boolean, what: string, timeoutMs = 5000) {
  return new Promise<Room>((resolve, reject) => {
    const seen: unknown[] = [];
    const timer = setTimeout(() => {
      subscription.unsubscribe();
      reject(new Error(`the watched query never emitted ${what} within ${timeoutMs} ms; it emitted ${JSON.stringify(seen)}`));
    }, timeoutMs);
    const subscription = query.subscribe({
      next: (result) => {
        seen.push({ dataState: result.dataState, data: result.data });
        if (result.dataState !== 'complete' || !accept(result.data.conflictRoom)) return;
        clearTimeout(timer);
        queueMicrotask(() => subscription.unsubscribe());
        resolve(result.data.conflictRoom);
      },
      error: (error) => {
        clearTimeout(timer);
        reject(error);
      },
    });
  });
}

/** Queues the data of a subscription; `next()` fails loudly when nothing arrives in time. */
class Events<T> {
  private readonly queue: T[] = [];
  private failure: unknown;
  private wake: (() => void) | undefined;
  readonly unsubscribe: () => void;

  constructor(observable: { subscribe(observer: { next(value: { data?: unknown; error?: unknown }): void; error(error: unknown): void }): { unsubscribe(): void } }) {
    const subscription = observable.subscribe({
      next: (result) => {
        if (result.error) this.failure = result.error;
        else this.queue.push(result.data as T);
        this.wake?.();
      },
      error: (error) => {
        this.failure = error;
        this.wake?.();
      },
    });
    this.unsubscribe = () => subscription.unsubscribe();
  }

  async next(timeoutMs = 5000): Promise<T> {
    if (this.queue.length === 0 && !this.failure) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no subscription event within ${timeoutMs} ms`)), timeoutMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      }).finally(() => (this.wake = undefined));
    }
    if (this.queue.length === 0) throw new Error(`subscription failed: ${String(this.failure)}`);
    return this.queue.shift()!;
  }
}

describe('apollo client', () => {
  // Apollo reports a misconfigured cache (fragment matching, lossy merges) with console warnings only.
  let warn: MockInstance<typeof console.warn>;
  let error: MockInstance<typeof console.error>;
  beforeEach(() => {
    warn = vi.spyOn(console, 'warn');
    error = vi.spyOn(console, 'error');
  });
  afterEach(() => {
    expect(warn.mock.calls).toEqual([]);
    expect(error.mock.calls).toEqual([]);
    vi.restoreAllMocks();
  });

  it('the SDK knows every event type of the schema as a ConflictRoomEvent', () => {
    expect(possibleTypes).toEqual(possibleTypesOf(readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8')));
    expect(possibleTypes).toEqual({
      ConflictRoomEvent: ['FieldCleared', 'FieldSelected', 'ParticipantJoined', 'ParticipantLeft', 'PresenceChanged', 'ReadinessChanged', 'RoomResolved', 'RoomSnapshot'],
    });
  });

  it('normalizes: a FieldSelected event updates the watched room query without a refetch', async () => {
    const tx = 'apollo-1';
    await mutate(server.url, alice, JOIN, { tx });
    await mutate(server.url, bob, JOIN, { tx });
    await mutate(server.url, alice, SELECT, { tx, field: 'price', value: '45000' });

    const { client, cache, operations } = apolloClient(alice);
    const watched = client.watchQuery({ query: ConflictRoomDocument, variables: { transactionId: tx } });
    const room = await waitForRoom(watched, () => true, 'the room');
    expect(room).toMatchObject({ __typename: 'ConflictRoom', id: tx, version: 3, status: 'OPEN' });
    expect(room.selections).toEqual([
      {
        __typename: 'FieldSelection',
        id: `${tx}:price`,
        field: 'price',
        value: '45000',
        userId: 'alice',
        userName: 'Alice',
        selectedAt: room.selections[0]!.selectedAt,
        version: 3,
      },
    ]);
    expect(client.cache.identify(room)).toBe(`ConflictRoom:${tx}`);
    expect(client.cache.identify(room.selections[0]!)).toBe(`FieldSelection:${tx}:price`);
    expect(client.cache.identify(room.participants[0]!)).toBe(`Participant:${tx}:alice`);
    expect(operations).toEqual(['ConflictRoom']);

    // Keep the watched query active, as a mounted component would.
    const keepAlive = watched.subscribe(() => undefined);
    const events = new Events<ConflictRoomEventsSubscription>(
      client.subscribe({ query: ConflictRoomEventsDocument, variables: { transactionId: tx, afterVersion: room.version, epoch: room.epoch } }),
    );
    // Alice's subscription makes her online (version 4); the event's participant (id tx:alice) reaches the room too.
    expect((await events.next()).conflictRoomEvents).toMatchObject({ __typename: 'PresenceChanged', version: 4, participant: { id: `${tx}:alice`, online: true } });
    const online = await waitForRoom(watched, (r) => r.participants[0]?.online === true, 'alice online');
    expect(online.participants.map((p) => [p.userId, p.online])).toEqual([
      ['alice', true],
      ['bob', false],
    ]);

    // Bob changes the price that the room already had.
    const updated = waitForRoom(watched, (r) => r.selections[0]?.value === '46000', 'price 46000');
    await mutate(server.url, bob, SELECT, { tx, field: 'price', value: '46000' });
    const event = (await events.next()).conflictRoomEvents;
    expect(event).toMatchObject({ __typename: 'FieldSelected', version: 5, userId: 'bob', selection: { id: `${tx}:price`, value: '46000' } });
    if (event.__typename !== 'FieldSelected') throw new Error('unreachable');

    const after = await updated;
    expect(after.selections).toEqual([
      {
        __typename: 'FieldSelection',
        id: `${tx}:price`,
        field: 'price',
        value: '46000',
        userId: 'bob',
        userName: 'Bob',
        selectedAt: event.selection.selectedAt,
        version: 5,
      },
    ]);
    // The room entity itself was not refetched: its own version is still the one the query read.
    expect(after.version).toBe(3);
    expect(operations).toEqual(['ConflictRoom']);
    expect(cache.extract()[`FieldSelection:${tx}:price`]).toMatchObject({ value: '46000', version: 5 });

    events.unsubscribe();
    keepAlive.unsubscribe();
  });
});
