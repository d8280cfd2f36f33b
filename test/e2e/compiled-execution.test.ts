/**
 * Operations run compiled by graphql-jit where that gives exactly graphql-js's answers, and on
 * graphql-js where it would not (src/transport/lazy-jit.ts). Each case here is one the outside probe
 * found compiled execution getting wrong; on the embedded store, over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { JitDocuments } from '../../src/transport/lazy-jit.js';
import { schema } from '../../src/schema/index.js';
import { startServer, type TestServer } from '../utils/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => server?.stop());

async function post(user: string, query: string, variables: Record<string, unknown> = {}): Promise<{ status: number; body: { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string } }> } }> {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', 'x-user-id': user, 'x-user-name': user },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: await response.json() };
}

const join = (user: string, tx: string) => post(user, 'mutation J($tx: ID!) { joinConflictRoom(transactionId: $tx) { version } }', { tx });

describe('compiled execution answers as graphql-js does', () => {
  it('a mutation of two root fields stops at the first whose error nulls data: the second never runs', async () => {
    const tx = `jit-serial-${Date.now()}`;
    await join('alice', tx);
    await join('bob', tx);
    await post('bob', 'mutation S($tx: ID!) { selectField(transactionId: $tx, field: "price", value: "1") { version } }', { tx });
    await post('bob', 'mutation R($tx: ID!) { setReady(transactionId: $tx, isReady: true) { version } }', { tx });
    const both = await post(
      'alice',
      `mutation PickThenReady($tx: ID!) {
        pick: selectField(transactionId: $tx, field: "price", value: "45000", expectedVersion: 0) { version }
        ready: setReady(transactionId: $tx, isReady: true) { version status }
      }`,
      { tx },
    );
    expect(both.body.data).toBeNull();
    expect(both.body.errors?.map((e) => e.extensions?.code)).toEqual(['VERSION_CONFLICT']);
    const room = await post('alice', 'query Q($tx: ID!) { conflictRoom(transactionId: $tx) { version status participants { userId isReady } } }', { tx });
    expect(room.body.data).toEqual({
      conflictRoom: {
        version: 4,
        status: 'OPEN',
        participants: [
          { userId: 'alice', isReady: false },
          { userId: 'bob', isReady: true },
        ],
      },
    });
  });

  it('an explicit null for @skip(if:) is refused, not read as the default', async () => {
    const skipped = await post('alice', 'query Q($tx: ID!, $s: Boolean = true) { conflictRoom(transactionId: $tx) { version epoch @skip(if: $s) } }', {
      tx: 'jit-skip',
      s: null,
    });
    expect(skipped.body.errors?.map((e) => [e.message, e.extensions?.code])).toEqual([
      ['Argument "if" of non-null type "Boolean!" must not be null.', 'BAD_USER_INPUT'],
    ]);
  });

  it('variables that do not coerce are a 400 with BAD_USER_INPUT, for a single-field mutation as for any operation', async () => {
    const tx = `jit-vars-${Date.now()}`;
    await join('alice', tx);
    const select = 'mutation S($tx: ID!, $v: Int) { selectField(transactionId: $tx, field: "price", value: "1", expectedVersion: $v) { version } }';
    // A valid run first: the document is compiled by now.
    expect((await post('alice', select, { tx, v: 0 })).body).toEqual({ data: { selectField: { version: 2 } } });
    const overflow = await post('alice', select, { tx, v: 2 ** 31 });
    expect(overflow.status).toBe(400);
    expect(overflow.body.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
  });
});

describe('variables refused over graphql-ws', () => {
  it("a subscription's variable out of range is BAD_USER_INPUT, as over HTTP", async () => {
    const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, connectionParams: { userId: 'alice' }, retryAttempts: 0 });
    try {
      const errors = await new Promise<unknown>((resolve) =>
        client.subscribe(
          { query: 'subscription S($tx: ID!, $a: Int) { conflictRoomEvents(transactionId: $tx, afterVersion: $a) { version } }', variables: { tx: 'jit-ws', a: 2 ** 31 } },
          { next: (result) => resolve(result.errors), error: resolve, complete: () => resolve('completed without an error') },
        ),
      );
      expect((errors as Array<{ extensions?: { code?: string } }>).map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    } finally {
      await client.dispose();
    }
  });
});

describe('JitDocuments', () => {
  const queryOf = (n: number) => `query Q${n}($tx: ID!) { conflictRoom(transactionId: $tx) { version } }`;

  it('compiles the trusted texts and at most maxOthers other texts; a text parsed again reuses its compiled form', async () => {
    const documents = new JitDocuments(2);
    documents.trust([queryOf(0)]);
    // The compiler loads on the first ask (it may be loaded already, by the server above).
    new JitDocuments().compiledFor(schema, parse('{ __typename }'), undefined);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const compiled = (n: number) => documents.compiledFor(schema, parse(queryOf(n)), undefined) !== undefined;
    expect([compiled(0), compiled(1), compiled(2), compiled(3), compiled(4)]).toEqual([true, true, true, false, false]);
    expect([compiled(1), compiled(0)]).toEqual([true, true]);
    expect(documents.size).toBe(3);
    expect(documents.compiledFor(schema, parse(queryOf(1)), undefined)).toBe(documents.compiledFor(schema, parse(queryOf(1)), undefined));
  });

  it('never compiles a document using @skip or @include', async () => {
    const documents = new JitDocuments();
    new JitDocuments().compiledFor(schema, parse('{ __typename }'), undefined);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const text = 'query Q($tx: ID!, $s: Boolean!) { conflictRoom(transactionId: $tx) { version @include(if: $s) } }';
    expect(documents.compiledFor(schema, parse(text), undefined)).toBeUndefined();
    expect(documents.compiledFor(schema, parse(queryOf(0)), undefined)).toBeDefined();
    expect(documents.size).toBe(1);
  });
});
