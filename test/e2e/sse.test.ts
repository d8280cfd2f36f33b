/**
 * graphql-sse's own client (distinct connections mode, the one graphql-yoga serves) against the real
 * server on Redis: replay then live, and ending the stream releases the server's Redis subscription.
 */
import { type Client as SseClient, createClient } from 'graphql-sse';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, mutate } from '../utils/clients.js';
import { EVENTS, type EventsResult, JOIN, SELECT } from '../utils/operations.js';
import { startCluster, type TestServer } from '../utils/server.js';

const alice = { userId: 'alice', userName: 'Alice' };

let cluster: Awaited<ReturnType<typeof startCluster>>;
let server: TestServer;
let redis: Redis;
const clients: SseClient[] = [];

beforeAll(async () => {
  cluster = await startCluster(inject('redisUrl'), 1);
  server = cluster.servers[0]!;
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  for (const client of clients) client.dispose();
  redis?.disconnect();
  await cluster?.stop();
});

function sseClient(user: { userId: string; userName?: string }): SseClient {
  const headers: Record<string, string> = { 'x-user-id': user.userId };
  if (user.userName) headers['x-user-name'] = user.userName;
  const client = createClient({ url: server.url, headers, retryAttempts: 0 });
  clients.push(client);
  return client;
}

/** Subscribers of the room's channel in Redis, across every instance of the service. */
async function numsub(tx: string): Promise<number> {
  const [, count] = (await redis.pubsub('NUMSUB', `${cluster.prefix}{${tx}}:events`)) as [string, number];
  return Number(count);
}

/** `promise`, or a rejection naming `what` after timeoutMs. */
function within<T>(promise: Promise<T>, what: string, timeoutMs = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const summary = (e: EventsResult['conflictRoomEvents']) => [e.__typename, e.version, e.userId, e.selection?.field ?? null, e.selection?.value ?? null];

describe('graphql-sse client', () => {
  it('replays from afterVersion 0, then streams live; returning the iterator ends the stream and its Redis subscription', async () => {
    const tx = 'sse-client-1';
    await mutate(server.url, alice, JOIN, { tx });
    await mutate(server.url, alice, SELECT, { tx, field: 'price', value: '45000' });
    expect(await numsub(tx)).toBe(0);

    // Bob watches without joining (watchers make no presence event).
    const iterator = sseClient({ userId: 'bob', userName: 'Bob' }).iterate<EventsResult>({ query: EVENTS, variables: { tx, after: 0 } });
    const take = async () => {
      const { value, done } = await within(iterator.next(), 'SSE event');
      if (done) throw new Error('the SSE stream ended early');
      if (value.errors?.length) throw new Error(`SSE errors: ${JSON.stringify(value.errors)}`);
      return value.data!.conflictRoomEvents;
    };

    const joined = await take();
    expect(joined).toEqual({
      __typename: 'ParticipantJoined',
      transactionId: tx,
      version: 1,
      at: joined.at,
      userId: 'alice',
      participant: { userId: 'alice', name: 'Alice', isReady: false, online: false },
    });
    const replayed = await take();
    expect(summary(replayed)).toEqual(['FieldSelected', 2, 'alice', 'price', '45000']);
    expect(replayed).toMatchObject({ readinessReset: false, selection: { userId: 'alice', userName: 'Alice', version: 2 } });
    // The stream subscribes to the room's channel before it reads the log, so it is registered now.
    expect(await numsub(tx)).toBe(1);

    await mutate(server.url, alice, SELECT, { tx, field: 'price', value: '46000' });
    const live = await take();
    expect(summary(live)).toEqual(['FieldSelected', 3, 'alice', 'price', '46000']);
    expect(live).toMatchObject({ transactionId: tx, readinessReset: false, selection: { userName: 'Alice', version: 3 } });

    // Ending the iterator aborts the request; the server drops the stream and, its last local subscriber gone, the channel.
    expect(await within(iterator.return!(), 'iterator.return()')).toEqual({ done: true, value: undefined });
    await eventually(async () => (await numsub(tx)) === 0, 5000, `PUBSUB NUMSUB of ${tx} back to 0`);
  });

  it('the unsubscribe function of subscribe() ends the stream the same way', async () => {
    const tx = 'sse-client-2';
    await mutate(server.url, alice, JOIN, { tx });
    const received: Array<EventsResult['conflictRoomEvents']> = [];
    let failure: unknown;
    let arrived: () => void = () => undefined;
    let completed: () => void = () => undefined;
    const first = new Promise<void>((resolve) => (arrived = resolve));
    const complete = new Promise<void>((resolve) => (completed = resolve));
    const unsubscribe = sseClient({ userId: 'carol' }).subscribe<EventsResult>(
      { query: EVENTS, variables: { tx, after: 0 } },
      {
        next: (result) => {
          if (result.errors?.length) failure = result.errors;
          else received.push(result.data!.conflictRoomEvents);
          arrived();
        },
        error: (error) => {
          failure = error;
          arrived();
        },
        complete: () => completed(),
      },
    );
    await within(first, 'the replayed join');
    expect(failure).toBeUndefined();
    expect(received.map(summary)).toEqual([['ParticipantJoined', 1, 'alice', null, null]]);
    expect(await numsub(tx)).toBe(1);

    unsubscribe();
    // The client completes the sink (it aborted the request itself), and the server lets go of the channel.
    await within(complete, 'complete() after unsubscribe');
    await eventually(async () => (await numsub(tx)) === 0, 5000, `PUBSUB NUMSUB of ${tx} back to 0`);
    expect(received).toHaveLength(1);
    expect(failure).toBeUndefined();
  });
});
