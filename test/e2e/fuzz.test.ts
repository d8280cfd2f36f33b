/**
 * Issue 8, fuzzed: random and hostile operations, variables, headers and raw WebSocket frames thrown at
 * a running server (loopback, in this process) for a bounded time and number of runs. Afterwards the
 * server still answers, a room the fuzzer had no grant for is exactly as it was, and the heap (after a
 * forced GC) is back near where it started. Every answer along the way uses the contract's codes.
 * Reproduce a failure with the seed fast-check prints: FUZZ_SEED=<seed> npx vitest run test/e2e/fuzz.test.ts
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { mutate, post } from '../utils/clients.js';
import { JOIN, ROOM_QUERY, SELECT, SET_READY } from '../utils/operations.js';
import { aliases, fragmentDoubling, manyDirectives, nestedBraces } from '../utils/hostile-shapes.js';
import { rawRequest } from '../utils/raw-http.js';
import { startServer, type TestServer } from '../utils/server.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const contractCodes = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'NOT_A_PARTICIPANT', 'VERSION_CONFLICT', 'ROOM_RESOLVED', 'LIMIT_EXCEEDED', 'RATE_LIMITED', 'STORE_UNAVAILABLE']);
/** Statuses a hostile request may get: never 5xx. 414/431 come from Node's HTTP parser for huge URLs. */
const httpStatuses = new Set([200, 400, 403, 404, 405, 406, 413, 414, 415, 431]);
const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const victim = 'victim';

// ---- arbitraries ----------------------------------------------------------------------------------
const ascii = (maxLength: number) => fc.array(fc.integer({ min: 0x20, max: 0x7e }), { maxLength }).map((c) => String.fromCharCode(...c));
/** Never grants the victim room: no "victim" and no "*" anywhere in it. */
const safeText = (maxLength: number) => ascii(maxLength).filter((s) => !s.toLowerCase().includes('victim') && !s.includes('*'));
const txIds = fc.constantFrom(victim, 'fuzz-1', 'tx:a', '', 'x'.repeat(200), 'a b', 'victim ', 'VICTIM');
const scalars = ['version', 'epoch', 'status', 'id', '__typename', 'allReady', 'resolvedAt', 'field', 'value', 'userId', 'nope'];
const objects = ['participants', 'selections', 'selection(field: "price")', 'agreement', '__schema', '__type(name: "Query")', 'types'];

const { set: selectionSet } = fc.letrec<{ set: string; selection: string }>((tie) => ({
  selection: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...scalars),
    fc.tuple(fc.option(fc.constantFrom('a', 'b', 'x1')), fc.constantFrom(...objects), tie('set')).map(([alias, name, set]) => `${alias ? `${alias}: ` : ''}${name} ${set}`),
    fc.tuple(fc.constantFrom('...on ConflictRoom', '...on Participant', '... @skip(if: false)'), tie('set')).map(([on, set]) => `${on} ${set}`),
  ),
  set: fc.array(tie('selection'), { minLength: 1, maxLength: 4 }).map((s) => `{ ${s.join(' ')} }`),
}));

const rootField = fc.tuple(
  fc.constantFrom('conflictRoom', 'conflictRoomHistory', 'joinConflictRoom', 'selectField', 'clearField', 'setReady', 'leaveConflictRoom', 'conflictRoomEvents'),
  txIds,
  fc.constantFrom('', ', field: "price", value: "hacked"', ', isReady: true', ', userName: "Mallory"', ', afterVersion: -1', ', first: 100000', ', field: $f, value: $v'),
  selectionSet,
).map(([field, tx, args, set]) => `${field}(transactionId: ${JSON.stringify(tx)}${args}) ${set}`);

const operation = fc.oneof(
  fc.tuple(fc.constantFrom('query', 'mutation', 'subscription', ''), fc.array(rootField, { minLength: 1, maxLength: 3 })).map(([kind, fields]) => `${kind} { ${fields.join(' ')} }`),
  fc.integer({ min: 1, max: 40 }).map((n) => fragmentDoubling(n)),
  fc.integer({ min: 1, max: 4000 }).map((n) => aliases(n)),
  fc.integer({ min: 1, max: 6000 }).map((n) => nestedBraces(n)),
  fc.integer({ min: 1, max: 200 }).map((n) => manyDirectives(n)),
  fc.string({ maxLength: 300 }),
);

const variables = fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 3 }), fc.record({ tx: txIds, f: fc.string(), v: fc.jsonValue({ maxDepth: 2 }) }));
/** The fuzzer's grant is always present and never grants the victim room (absent would grant every room). */
const grantHeader = fc.oneof(fc.constantFrom('', ',', 'fuzz-1', 'fuzz-1, tx:a', 'tx-1,,tx-2'), safeText(40));
const grantParam = fc.oneof(fc.constant(null), safeText(20), fc.array(safeText(12), { maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }).filter((v) => !/victim|\*/i.test(JSON.stringify(v) ?? '')));

const httpRequest = fc.record({
  method: fc.constantFrom('GET', 'POST', 'POST', 'PUT'),
  query: operation,
  variables,
  operationName: fc.option(fc.constantFrom('Q', 'A', ''), { nil: undefined }),
  rawBody: fc.option(fc.string({ maxLength: 200 }), { freq: 5, nil: undefined }),
  contentType: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/graphql', ''),
  accept: fc.constantFrom(undefined, 'application/json', 'application/graphql-response+json', 'text/event-stream', 'text/html', '*/*'),
  userId: fc.option(fc.oneof(fc.constantFrom('fuzzer', 'alice', 'bob'), safeText(20)), { nil: undefined }),
  grant: grantHeader,
  csrf: fc.boolean(),
  origin: fc.option(fc.constantFrom('https://evil.example', 'null', 'http://localhost:3000'), { nil: undefined }),
});

const frame = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  fc.record({ id: fc.oneof(fc.constantFrom('1', '2'), fc.string({ maxLength: 8 })), query: operation, variables }).map(({ id, query, variables }) => JSON.stringify({ id, type: 'subscribe', payload: { query, variables } })),
  fc.constantFrom('{"type":"ping"}', '{"type":"pong"}', '{"type":"complete","id":"1"}', '{"type":"connection_init"}', '{"type":"subscribe"}'),
);
const wsSession = fc.record({
  init: fc.record({ userId: fc.oneof(fc.constantFrom('fuzzer', 'alice', 'bob'), safeText(20)), userName: fc.option(fc.string({ maxLength: 20 })), transactions: grantParam }),
  sendInit: fc.boolean(),
  frames: fc.array(frame, { maxLength: 6 }),
});

// ---- the server and its victim room ---------------------------------------------------------------
let server: TestServer;
const alice = { userId: 'alice', userName: 'Alice' };
const bob = { userId: 'bob', userName: 'Bob' };
const heapAfterGc = () => {
  gc();
  gc();
  return process.memoryUsage();
};
const victimRoom = async () => (await post(server.url, alice, ROOM_QUERY, { tx: victim })).data;

beforeAll(async () => {
  server = await startServer();
  await mutate(server.url, alice, JOIN, { tx: victim });
  await mutate(server.url, bob, JOIN, { tx: victim });
  await mutate(server.url, alice, SELECT, { tx: victim, field: 'price', value: '45000' });
  await mutate(server.url, bob, SET_READY, { tx: victim, ready: true });
});
afterAll(async () => {
  await server?.stop();
});

function expectContractErrors(body: unknown, what: string): void {
  const errors = (body as { errors?: Array<{ extensions?: { code?: unknown } }> } | undefined)?.errors ?? [];
  for (const error of errors) expect(contractCodes.has(error.extensions?.code as string), `${what}: ${JSON.stringify(error).slice(0, 300)}`).toBe(true);
}

type Infer<A> = A extends fc.Arbitrary<infer T> ? T : never;

async function sendHttp(r: Infer<typeof httpRequest>): Promise<void> {
  const headers: Record<string, string> = { 'x-user-transactions': r.grant };
  if (r.contentType) headers['content-type'] = r.contentType;
  if (r.accept) headers.accept = r.accept;
  if (r.userId !== undefined) headers['x-user-id'] = r.userId;
  if (r.csrf) headers['x-graphql-yoga-csrf'] = '1';
  if (r.origin) headers.origin = r.origin;
  const params = { query: r.query, variables: r.variables, operationName: r.operationName };
  const url = r.method === 'GET' ? `${server.url}?${new URLSearchParams({ query: r.query, ...(r.variables !== undefined ? { variables: JSON.stringify(r.variables) } : {}) })}` : server.url;
  const response = await rawRequest(url, { method: r.method, headers, timeoutMs: r.accept === 'text/event-stream' ? 1000 : 5000, ...(r.method === 'GET' ? {} : { body: r.rawBody ?? JSON.stringify(params) }) });
  expect(httpStatuses.has(response.status), `HTTP ${response.status}: ${response.text.slice(0, 300)}`).toBe(true);
  if (response.headers['content-type']?.toString().includes('event-stream')) {
    // A subscription the fuzzer may watch (its own rooms) streams on: its events are checked, the rest not awaited.
    const complete = response.text.split('\n').slice(0, -1);
    for (const line of complete) if (line.startsWith('data: ')) expectContractErrors(JSON.parse(line.slice(6)), 'SSE event');
    return;
  }
  expect(response.timedOut, 'no answer within 5 s').toBe(false);
  expectContractErrors(response.json, `HTTP ${response.status}`);
}

async function sendWs(s: Infer<typeof wsSession>): Promise<void> {
  const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
  const messages: any[] = [];
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  socket.on('error', () => undefined); // a refused frame may end the socket; the close code says how
  socket.on('message', (data) => {
    try {
      messages.push(JSON.parse(String(data)));
    } catch {
      messages.push({ unparsable: String(data).slice(0, 100) });
    }
  });
  await new Promise<void>((resolve) => {
    socket.on('open', () => resolve());
    socket.on('close', () => resolve());
  });
  if (socket.readyState === WebSocket.OPEN) {
    if (s.sendInit) socket.send(JSON.stringify({ type: 'connection_init', payload: s.init }));
    for (const f of s.frames) if (socket.readyState === WebSocket.OPEN) socket.send(f);
  }
  const code = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(0), 150))]);
  socket.terminate();
  expect([4500, 1011]).not.toContain(code);
  for (const message of messages) {
    expect(message.unparsable, 'the server sent something that is not JSON').toBeUndefined();
    if (message.type === 'error') expectContractErrors({ errors: message.payload }, 'graphql-ws error');
    if (message.type === 'next') expectContractErrors(message.payload, 'graphql-ws next');
  }
}

describe('fuzz (bounded: at most ~15 s)', () => {
  it('random and hostile HTTP requests and WebSocket frames: contract codes only, the victim room untouched, memory back down', { timeout: 60_000 }, async () => {
    const before = await victimRoom();
    expect(before?.conflictRoom).toMatchObject({ version: 4, selections: [{ field: 'price', value: '45000' }] });
    // Warm up what is built once (schema, caches, JIT) before taking the baseline.
    for (let i = 0; i < 20; i++) await post(server.url, alice, ROOM_QUERY, { tx: victim });
    const baseline = heapAfterGc();

    await fc.assert(fc.asyncProperty(httpRequest, sendHttp), { numRuns: 600, interruptAfterTimeLimit: 8000, ...(seed !== undefined ? { seed } : {}) });
    await fc.assert(fc.asyncProperty(wsSession, sendWs), { numRuns: 200, interruptAfterTimeLimit: 5000, ...(seed !== undefined ? { seed } : {}) });

    // Still answering, and nothing of the victim room changed.
    expect((await post(server.url, null, '{ __typename }')).data).toEqual({ __typename: 'Query' });
    expect(await victimRoom()).toEqual(before);

    // Sockets the fuzzer opened are gone; what it parsed is in bounded caches.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const after = heapAfterGc();
    const grewMb = (after.heapUsed - baseline.heapUsed) / 2 ** 20;
    console.log(`fuzz heap: ${(baseline.heapUsed / 2 ** 20).toFixed(1)} MB -> ${(after.heapUsed / 2 ** 20).toFixed(1)} MB; rss ${(baseline.rss / 2 ** 20).toFixed(0)} -> ${(after.rss / 2 ** 20).toFixed(0)} MB`);
    expect(grewMb).toBeLessThan(64);
  });
});
