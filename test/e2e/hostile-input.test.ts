/**
 * Issue 8, "Hostile input bounded": the probe's documents and bodies, sent by a caller with no
 * identity, are refused fast with a contract code, and the server goes on answering.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post } from '../utils/clients.js';
import { aliases, fragmentDoubling, manyDirectives, nestedBraces } from '../utils/hostile-shapes.js';
import { rawRequest } from '../utils/raw-http.js';
import { startServer, type TestServer } from '../utils/server.js';

const json = { 'content-type': 'application/json' };
/** A GET that passed a CORS preflight carries a header a simple request cannot (yoga's CSRF check). */
const csrf = { 'x-graphql-yoga-csrf': '1' };

async function stillAnswers(url: string): Promise<void> {
  const response = await rawRequest(url, { method: 'POST', headers: json, body: JSON.stringify({ query: '{ __typename }' }) });
  expect(response.json).toEqual({ data: { __typename: 'Query' } });
}

const firstError = (body: any) => body.errors[0] as { message: string; extensions: Record<string, unknown> };

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
});

describe('documents are bounded before they are planned, compiled or executed', () => {
  it('a 2^30 fragment-doubling document over GET, with no identity, is refused in milliseconds', async () => {
    const response = await rawRequest(`${server.url}?query=${encodeURIComponent(fragmentDoubling(30))}`, { headers: csrf });
    expect(response.status).toBe(200);
    expect(firstError(response.json).extensions.code).toBe('BAD_USER_INPUT');
    expect(firstError(response.json).message).toMatch(/Cost limit of 5000 exceeded/);
    expect(response.ms).toBeLessThan(1000);
    await stillAnswers(server.url);
  });

  it('5,000 nested braces are a GraphQL error with BAD_USER_INPUT, not HTTP 500', async () => {
    const query = nestedBraces(5000);
    const response = await rawRequest(server.url, { method: 'POST', headers: json, body: JSON.stringify({ query }) });
    expect(response.status).toBe(200);
    expect(firstError(response.json)).toEqual({
      message: 'Syntax Error: Token limit of 2000 exceeded.',
      extensions: { code: 'BAD_USER_INPUT', reason: 'GRAPHQL_PARSE_FAILED' },
    });
    await stillAnswers(server.url);
  });

  it('20,000 aliases of conflictRoom are refused fast: 413 at the default body limit', async () => {
    const response = await rawRequest(server.url, { method: 'POST', headers: json, body: JSON.stringify({ query: aliases(20_000) }) });
    expect(response.status).toBe(413);
    expect(firstError(response.json).extensions).toEqual({ code: 'BAD_USER_INPUT', reason: 'REQUEST_ENTITY_TOO_LARGE' });
    expect(response.ms).toBeLessThan(1000);
  });

  it('20,000 aliases under a raised body limit are refused by the token limit, fast', async () => {
    const roomy = await startServer({ MAX_BODY_BYTES: String(4 * 1024 * 1024) });
    try {
      const response = await rawRequest(roomy.url, { method: 'POST', headers: json, body: JSON.stringify({ query: aliases(20_000) }) });
      expect(firstError(response.json)).toEqual({
        message: 'Syntax Error: Token limit of 2000 exceeded.',
        extensions: { code: 'BAD_USER_INPUT', reason: 'GRAPHQL_PARSE_FAILED' },
      });
      expect(response.ms).toBeLessThan(1000);
      await stillAnswers(roomy.url);
    } finally {
      await roomy.stop();
    }
  });

  it('too many aliases or directives, too deep or too costly: each refused with BAD_USER_INPUT', async () => {
    const cases: Array<[string, string]> = [
      [aliases(16), 'Syntax Error: Aliases limit of 15 exceeded, found 16.'],
      [manyDirectives(51), 'Syntax Error: Directives limit of 50 exceeded, found 51.'],
    ];
    for (const [query, message] of cases) {
      expect((await post(server.url, null, query)).errors).toEqual([{ message, extensions: { code: 'BAD_USER_INPUT' } }]);
    }
    const strict = await startServer({ MAX_DEPTH: '2', MAX_COST: '100' });
    try {
      const deep = await post(strict.url, null, '{ conflictRoom(transactionId: "t") { participants { id } } }');
      expect(deep.errors).toEqual([{ message: 'Syntax Error: Query depth limit of 2 exceeded, found 3.', extensions: { code: 'BAD_USER_INPUT' } }]);
      const costly = await post(strict.url, null, `{ ${Array.from({ length: 10 }, (_, i) => `r${i}: conflictRoom(transactionId: "t") { id transactionId version epoch status allReady resolvedAt }`).join(' ')} }`);
      expect(costly.errors).toEqual([{ message: 'Syntax Error: Query Cost limit of 100 exceeded, found 125.', extensions: { code: 'BAD_USER_INPUT' } }]);
      // Within every limit, the same caller is simply not signed in.
      expect((await post(strict.url, null, '{ conflictRoom(transactionId: "t") { version } }')).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    } finally {
      await strict.stop();
    }
  });
});

describe('bodies are bounded before they are parsed', () => {
  const mebibyte = Buffer.from(JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(1024 * 1024) } }));

  it('a 1 MiB POST with Content-Length gets 413 BAD_USER_INPUT', async () => {
    const response = await rawRequest(server.url, { method: 'POST', headers: json, body: mebibyte });
    expect(response.status).toBe(413);
    expect(response.json).toEqual({ errors: [{ message: 'Request body too large', extensions: { code: 'BAD_USER_INPUT', reason: 'REQUEST_ENTITY_TOO_LARGE' } }] });
    await stillAnswers(server.url);
  });

  it('a 1 MiB chunked POST (no Content-Length) gets 413 BAD_USER_INPUT', async () => {
    const chunks: Buffer[] = [];
    for (let at = 0; at < mebibyte.length; at += 16 * 1024) chunks.push(mebibyte.subarray(at, at + 16 * 1024));
    const response = await rawRequest(server.url, { method: 'POST', headers: json, body: chunks });
    expect(response.status).toBe(413);
    expect(response.json).toEqual({ errors: [{ message: 'Request body too large', extensions: { code: 'BAD_USER_INPUT', reason: 'REQUEST_ENTITY_TOO_LARGE' } }] });
    await stillAnswers(server.url);
  });

  it('a body just under the limit is read', async () => {
    const query = '{ __typename }';
    const pad = 'x'.repeat(64 * 1024 - JSON.stringify({ query, variables: { pad: '' } }).length);
    const response = await rawRequest(server.url, { method: 'POST', headers: json, body: JSON.stringify({ query, variables: { pad } }) });
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ data: { __typename: 'Query' } });
  });

  it('malformed JSON is BAD_USER_INPUT, and the parser\'s own text is not echoed', async () => {
    const response = await rawRequest(server.url, { method: 'POST', headers: json, body: '{"query": "{ __typename }", "x": tru' });
    expect(response.json).toEqual({ errors: [{ message: 'POST body sent invalid JSON.', extensions: { code: 'BAD_USER_INPUT', reason: 'BAD_REQUEST' } }] });
    expect(response.text).not.toMatch(/originalError|Unexpected token|SyntaxError/);
  });

  it('a request without a query is BAD_USER_INPUT, not BAD_REQUEST', async () => {
    const response = await rawRequest(server.url, { method: 'POST', headers: json, body: '{}' });
    // Nothing to run: no text, and no trusted document's hash (TRUSTED_DOCUMENTS=allow reads both).
    expect(response.status).toBe(400);
    expect(response.json).toEqual({
      errors: [
        {
          message: 'Send a query, or extensions.persistedQuery { version: 1, sha256Hash } of a trusted document.',
          extensions: { code: 'BAD_USER_INPUT', reason: 'PERSISTED_QUERY_ID_REQUIRED' },
        },
      ],
    });
  });
});
