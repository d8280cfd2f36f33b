/** One execution and one JSON per event and document, however many subscribers share them. */
import { type ExecutionResult, GraphQLInt, GraphQLObjectType, GraphQLSchema, GraphQLString, parse } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import type { RoomEvent } from '../../src/domain/events.js';
import { defaultLimits } from '../../src/domain/limits.js';
import type { GraphQLContext } from '../../src/schema/builder.js';
import { schema } from '../../src/schema/index.js';
import { SharedResult, sharedSubscribe, useSharedSubscriptions } from '../../src/transport/shared-subscribe.js';

const event: RoomEvent = {
  type: 'FieldSelected',
  transactionId: 'tx',
  version: 3,
  at: '2026-11-26T10:00:00.000Z',
  userId: 'alice',
  readinessReset: false,
  selection: { transactionId: 'tx', field: 'price', value: '45000', userId: 'alice', userName: 'Alice', selectedAt: '2026-11-26T10:00:00.000Z', version: 3 },
};

/** A context whose every stream yields the given events (the same objects for every subscriber). */
function context(events: RoomEvent[]): GraphQLContext {
  return {
    identity: { userId: 'watcher' },
    limits: defaultLimits,
    rooms: undefined as never,
    rateLimit: async () => undefined,
    openStream: () =>
      (async function* () {
        yield* events;
        await new Promise(() => undefined); // then nothing more, like a quiet room
      })() as never,
  };
}

const document = parse(`subscription($tx: ID!, $after: Int, $field: String!) {
  conflictRoomEvents(transactionId: $tx, afterVersion: $after) { version ... on FieldSelected { selection { field value } } ...R }
}
fragment R on ConflictRoomEvent { userId ... on RoomSnapshot { room { selection(field: $field) { value } } } }`);
const identity = (result: ExecutionResult) => result;

async function first(variables: Record<string, unknown>, ctx: GraphQLContext) {
  const stream = (await sharedSubscribe({ schema, document, variableValues: variables, contextValue: ctx }, identity)) as AsyncIterableIterator<SharedResult>;
  const { value } = await stream.next();
  await stream.return?.();
  return value as SharedResult;
}

describe('sharedSubscribe', () => {
  it('gives every subscriber of the same event and document the same result and JSON', async () => {
    const ctx = context([event]);
    const a = await first({ tx: 'tx', after: 1, field: 'price' }, ctx);
    const b = await first({ tx: 'tx', after: 2, field: 'price' }, ctx); // another afterVersion: same result
    expect(a).toBeInstanceOf(SharedResult);
    expect(b).toBe(a);
    expect(a.json).toBe('{"data":{"conflictRoomEvents":{"version":3,"selection":{"field":"price","value":"45000"},"userId":"alice"}}}');
  });

  it('keeps results apart when a variable used below the root field differs, or the event does', async () => {
    const ctx = context([event]);
    const a = await first({ tx: 'tx', after: 1, field: 'price' }, ctx);
    const c = await first({ tx: 'tx', after: 1, field: 'condition' }, ctx);
    expect(c).not.toBe(a);
    const other = await first({ tx: 'tx', after: 1, field: 'price' }, context([{ ...event }]));
    expect(other).not.toBe(a);
    expect(other.json).toBe(a.json);
  });

  it('returns the root field errors as a result, with nothing to share', async () => {
    const result = await sharedSubscribe({ schema, document, variableValues: { tx: 'bad id', field: 'x' }, contextValue: context([]) }, identity);
    expect((result as ExecutionResult).errors?.[0]?.message).toMatch(/transactionId must be/);
  });

  it('writes events straight into graphql-ws next messages when the source can push and the socket is known', async () => {
    const sent: string[] = [];
    const socket = { readyState: 1, bufferedAmount: 0, send: (data: Buffer) => void sent.push(data.toString()), close: () => undefined };
    let sink: { event(e: unknown): void; fail(e: unknown): void } | undefined;
    let closed = 0;
    const pushSource = { start: (s: typeof sink) => ((sink = s), { close: () => void closed++ }), [Symbol.asyncIterator]: () => undefined as never };
    const ctx = { ...context([]), openStream: () => pushSource as never };
    const iterator = (await sharedSubscribe({ schema, document, variableValues: { tx: 'tx', field: 'price' }, contextValue: ctx }, identity, { socket, id: 'op-1' })) as AsyncIterableIterator<SharedResult>;
    sink!.event(event);
    sink!.event(event);
    expect(sent).toEqual([
      '{"id":"op-1","type":"next","payload":{"data":{"conflictRoomEvents":{"version":3,"selection":{"field":"price","value":"45000"},"userId":"alice"}}}}',
      '{"id":"op-1","type":"next","payload":{"data":{"conflictRoomEvents":{"version":3,"selection":{"field":"price","value":"45000"},"userId":"alice"}}}}',
    ]);
    expect(JSON.parse(sent[0]!)).toMatchObject({ id: 'op-1', type: 'next' });
    // graphql-ws's iterator ends when the client completes: that closes the stream.
    const pending = iterator.next();
    await iterator.return?.();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(closed).toBe(1);
  });

  it('keys on variables used below the root field even through root fragments, and tells omitted from null', async () => {
    const inFragments = parse(`subscription($tx: ID!, $after: Int, $field: String = "price") {
      ... on Subscription { ...Root }
    }
    fragment Root on Subscription { conflictRoomEvents(transactionId: $tx, afterVersion: $after) { version ... on RoomSnapshot { room { selection(field: $field) { value } } } } }`);
    const ctx = context([event]);
    const firstOf = async (variables: Record<string, unknown>) => {
      const stream = (await sharedSubscribe({ schema, document: inFragments, variableValues: variables, contextValue: ctx }, identity)) as AsyncIterableIterator<SharedResult>;
      const { value } = await stream.next();
      await stream.return?.();
      return value as SharedResult;
    };
    const price = await firstOf({ tx: 'tx', after: 1, field: 'price' });
    expect(await firstOf({ tx: 'tx', after: 2, field: 'price' })).toBe(price);
    expect(await firstOf({ tx: 'tx', after: 1, field: 'qty' })).not.toBe(price);
    const omitted = await firstOf({ tx: 'tx', after: 1 });
    const explicitNull = await firstOf({ tx: 'tx', after: 1, field: null });
    expect(explicitNull).not.toBe(omitted);
  });
});

describe('shared execution has no viewer', () => {
  /** A schema of its own: an event type with one field whose resolver reads the context. */
  const tickEvent = { n: 1 };
  let computed = 0;
  const tickSchema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: { x: { type: GraphQLInt } } }),
    subscription: new GraphQLObjectType({
      name: 'Subscription',
      fields: {
        tick: {
          type: new GraphQLObjectType({
            name: 'Tick',
            fields: {
              n: { type: GraphQLInt },
              computed: { type: GraphQLInt, resolve: (tick: { n: number }) => (computed++, tick.n * 10) },
              viewer: { type: GraphQLString, resolve: (_tick, _args, ctx: { userId: string }) => ctx.userId },
            },
          }),
          subscribe: async function* () {
            yield tickEvent; // the same object for every subscriber, as room events are
            await new Promise(() => undefined);
          },
          resolve: (tick: unknown) => tick,
        },
      },
    }),
  });

  it('a resolver below the root field that reads the context fails instead of leaking the first viewer', async () => {
    const stream = (await sharedSubscribe(
      { schema: tickSchema, document: parse('subscription { tick { n viewer } }'), contextValue: { userId: 'alice' } },
      identity,
    )) as AsyncIterableIterator<SharedResult>;
    const { value } = await stream.next();
    await stream.return?.();
    expect(value!.result.data).toEqual({ tick: { n: 1, viewer: null } });
    expect(value!.result.errors?.[0]?.message).toMatch(/without a viewer: a resolver below the root field read context\.userId/);
  });

  it('SSE subscribers through yoga share one execution per event (useSharedSubscriptions)', async () => {
    const yoga = createYoga({ schema: tickSchema, plugins: [useSharedSubscriptions()], logging: false });
    computed = 0;
    const firstEvent = async () => {
      const response = await yoga.fetch('http://yoga/graphql?query=' + encodeURIComponent('subscription { tick { n computed } }'), {
        headers: { accept: 'text/event-stream' },
      });
      const reader = response.body!.getReader();
      let text = '';
      while (!/data: .*\n\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      return JSON.parse(/data: (.*)\n/.exec(text)![1]!) as unknown;
    };
    const [a, b] = await Promise.all([firstEvent(), firstEvent()]);
    expect(a).toEqual({ data: { tick: { n: 1, computed: 10 } } });
    expect(b).toEqual(a);
    expect(computed).toBe(1);
  });
});
