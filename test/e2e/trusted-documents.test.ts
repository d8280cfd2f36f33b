/**
 * TRUSTED_DOCUMENTS=only: the apps' operations (the SDK's, and an app's own manifest) run by hash over
 * HTTP, SSE and graphql-ws, through the SDK room client and Apollo's persisted-query link; any other
 * document, or text, is refused with BAD_USER_INPUT and writes nothing. The default (allow) takes both.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { createClient as createSseClient } from 'graphql-sse';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { buildApp } from '../../src/app.js';
import { ConflictRoomDocument, createRoomClient, possibleTypes } from '../../src/sdk/index.js';
import sdkManifest from '../../src/sdk/generated/persisted-documents.json' with { type: 'json' };
import { eventually, Subscription, wsClient } from '../utils/clients.js';
import { startServer, type TestServer } from '../utils/server.js';

const hashOf = (document: unknown) => (document as { __meta__: { hash: string } }).__meta__.hash;
const hex = (hash: string) => hash.replace(/^sha256:/, '');
const alice = { 'x-user-id': 'alice', 'x-user-name': 'Alice' };
type Result = { data?: Record<string, any> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };

async function postBody(url: string, body: Record<string, unknown>): Promise<Result> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...alice }, body: JSON.stringify(body) });
  return (await response.json()) as Result;
}
const byHash = (hash: string, variables: Record<string, unknown>) => ({ variables, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
const reasonOf = (result: Result) => ({ code: result.errors?.[0]?.extensions?.['code'], reason: result.errors?.[0]?.extensions?.['reason'] });

const appQuery = 'query AppVersion($transactionId: ID!) { conflictRoom(transactionId: $transactionId) { version } }';
const appHash = createHash('sha256').update(appQuery).digest('hex');
const notTrusted = { code: 'BAD_USER_INPUT', reason: 'PERSISTED_QUERY_ONLY' };

describe('TRUSTED_DOCUMENTS=only', () => {
  let server: TestServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'trusted-'));
    writeFileSync(join(dir, 'app.json'), JSON.stringify({ [appHash]: appQuery }));
    server = await startServer({ TRUSTED_DOCUMENTS: 'only', TRUSTED_DOCUMENTS_MANIFESTS: join(dir, 'app.json') });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the SDK room client runs by hash: join, select, and a second client follows the room', async () => {
    const tx = 'trusted-sdk';
    const writer = createRoomClient({ url: server.wsUrl, webSocketImpl: WebSocket, connectionParams: { userId: 'alice', userName: 'Alice' }, trustedDocuments: true });
    const watcher = createRoomClient({ url: server.wsUrl, webSocketImpl: WebSocket, connectionParams: { userId: 'bob' }, trustedDocuments: true });
    try {
      const room = await writer.joinRoom(tx, { userName: 'Alice' });
      const watched = await watcher.watchRoom(tx);
      const selected = await room.select('price', '45000');
      await eventually(() => watched.state.version === selected.version, 5000, 'the watcher seeing the select');
      expect(watched.state.selections.map((s) => [s.field, s.value])).toEqual([['price', '45000']]);
    } finally {
      await writer.dispose();
      await watcher.dispose();
    }
  });

  it('over HTTP: a hash (codegen\'s or bare hex, POST or GET) runs; text, or an unknown hash, is refused and writes nothing', async () => {
    const tx = 'trusted-http';
    const join = sdkManifestHash('mutation JoinConflictRoom');
    expect((await postBody(server.url, byHash(join, { transactionId: tx, userName: 'Alice' }))).errors).toBeUndefined();
    const room = await postBody(server.url, byHash(hex(hashOf(ConflictRoomDocument)), { transactionId: tx }));
    expect(room.data?.['conflictRoom']).toMatchObject({ __typename: 'ConflictRoom', version: 1 });

    const text = await postBody(server.url, { query: 'mutation { selectField(transactionId: "trusted-http", field: "price", value: "1") { version } }' });
    expect(reasonOf(text)).toEqual(notTrusted);
    expect(text.errors?.[0]?.message).toBe(
      'This service runs only trusted documents: send extensions.persistedQuery { version: 1, sha256Hash } of one of the SDK\'s operations instead of the text.',
    );
    // Text with a trusted hash beside it is still text.
    expect(reasonOf(await postBody(server.url, { query: appQuery, ...byHash(appHash, { transactionId: tx }) }))).toEqual(notTrusted);
    expect(reasonOf(await postBody(server.url, byHash('0'.repeat(64), { transactionId: tx })))).toEqual({ code: 'BAD_USER_INPUT', reason: 'PERSISTED_QUERY_NOT_FOUND' });
    expect(reasonOf(await postBody(server.url, { variables: {} }))).toEqual({ code: 'BAD_USER_INPUT', reason: 'PERSISTED_QUERY_ID_REQUIRED' });

    const params = new URLSearchParams({ variables: JSON.stringify({ transactionId: tx }), extensions: JSON.stringify({ persistedQuery: { version: 1, sha256Hash: appHash } }) });
    const get = await fetch(`${server.url}?${params}`, { headers: alice });
    expect(await get.json()).toEqual({ data: { conflictRoom: { version: 1 } } });
  });

  it('over graphql-ws and SSE: text is refused, a hash runs', async () => {
    const tx = 'trusted-streams';
    await postBody(server.url, byHash(sdkManifestHash('mutation JoinConflictRoom'), { transactionId: tx, userName: 'Alice' }));
    const socket = wsClient(server.wsUrl, { userId: 'alice' });
    try {
      const refused = new Subscription(socket, `subscription { conflictRoomEvents(transactionId: "${tx}") { version } }`);
      // graphql-ws refuses an operation with an error message: the client's error callback.
      await expect(refused.next()).rejects.toThrow('"extensions":{"code":"BAD_USER_INPUT","reason":"PERSISTED_QUERY_ONLY"}');
      await expect(new Subscription(socket, '').next()).rejects.toThrow('"extensions":{"code":"BAD_USER_INPUT","reason":"PERSISTED_QUERY_ID_REQUIRED"}');

    } finally {
      await socket.dispose();
    }
    const sse = createSseClient({ url: server.url, headers: alice, retryAttempts: 0 });
    try {
      const results: Result[] = [];
      await new Promise<void>((resolve) =>
        sse.subscribe({ query: `subscription { conflictRoomEvents(transactionId: "${tx}") { version } }` }, { next: (r) => void results.push(r as Result), error: () => resolve(), complete: resolve }),
      );
      expect(results.map(reasonOf)).toEqual([notTrusted]);
    } finally {
      sse.dispose();
    }
  });

  it('Apollo Client sends hashes only (PersistedQueryLink with the SDK\'s hashes) and its cache gets __typename', async () => {
    const tx = 'trusted-apollo';
    await postBody(server.url, byHash(sdkManifestHash('mutation JoinConflictRoom'), { transactionId: tx, userName: 'Alice' }));
    const link = new PersistedQueryLink({ generateHash: (document) => hex(hashOf(document)), useGETForHashedQueries: true }).concat(
      new HttpLink({ uri: server.url, headers: alice }),
    );
    const apollo = new ApolloClient({ link, cache: new InMemoryCache({ possibleTypes }) });
    try {
      const { data } = await apollo.query({ query: ConflictRoomDocument, variables: { transactionId: tx } });
      expect(data?.conflictRoom).toMatchObject({ __typename: 'ConflictRoom', transactionId: tx, version: 1 });
      expect(data?.conflictRoom?.participants.map((p) => p.__typename)).toEqual(['Participant']);
    } finally {
      apollo.stop();
    }
  });

  it('GraphiQL is off: it sends text', async () => {
    const page = await fetch(server.url, { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
  });
});

describe('TRUSTED_DOCUMENTS=allow (the default)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('runs text and trusted hashes; an unknown hash is refused', async () => {
    const tx = 'allow-1';
    expect((await postBody(server.url, { query: 'mutation($t: ID!) { joinConflictRoom(transactionId: $t) { version } }', variables: { t: tx } })).data).toEqual({
      joinConflictRoom: { version: 1 },
    });
    expect((await postBody(server.url, byHash(hashOf(ConflictRoomDocument), { transactionId: tx }))).data?.['conflictRoom'].version).toBe(1);
    expect(reasonOf(await postBody(server.url, byHash('f'.repeat(64), { transactionId: tx })))).toEqual({ code: 'BAD_USER_INPUT', reason: 'PERSISTED_QUERY_NOT_FOUND' });
  });
});

it('a manifest that cannot be read, or holds a document that does not parse, stops the start with its path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trusted-bad-'));
  try {
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, JSON.stringify({ abc: 'query {' }));
    await expect(buildApp(loadConfig({ PORT: '0', LOG_LEVEL: 'silent', TRUSTED_DOCUMENTS_MANIFESTS: broken }))).rejects.toThrow(
      `TRUSTED_DOCUMENTS_MANIFESTS: ${broken}: the document of abc does not parse`,
    );
    await expect(buildApp(loadConfig({ PORT: '0', LOG_LEVEL: 'silent', TRUSTED_DOCUMENTS_MANIFESTS: join(dir, 'missing.json') }))).rejects.toThrow(
      /^TRUSTED_DOCUMENTS_MANIFESTS: .*missing\.json cannot be read as JSON/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The SDK manifest's hash of the document that starts its operation with `start`. */
function sdkManifestHash(start: string): string {
  const entry = Object.entries(sdkManifest as Record<string, string>).find(([, text]) => text.includes(`${start}(`));
  if (!entry) throw new Error(`no SDK document with ${start}`);
  return entry[0];
}
