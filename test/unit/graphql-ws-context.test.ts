/** Each graphql-ws operation gets its own envelop context, as over HTTP: plugins see that operation's params. */
import { trustedDocuments } from '../../src/transport/trusted-documents.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from 'graphql-ws';
import { createSchema, createYoga, type Plugin } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { attachGraphQLWs } from '../../src/transport/graphql-ws.js';

describe('graphql-ws operations and envelop', () => {
  it('two operations on one socket see two contexts, each with its own params', async () => {
    const seen: Array<{ context: object; query: unknown }> = [];
    const recorder: Plugin = {
      onExecute: ({ args }) => {
        const context = args.contextValue as { params?: { query?: unknown } };
        seen.push({ context, query: context.params?.query });
      },
    };
    const yoga = createYoga({
      schema: createSchema({ typeDefs: 'type Query { a: Int, b: Int }', resolvers: { Query: { a: () => 1, b: () => 2 } } }),
      plugins: [recorder],
      logging: false,
    });
    const http = createServer(yoga);
    const dispose = attachGraphQLWs(http, yoga, '/graphql', (e) => e as Error, {
      security: { wsMaxMessageBytes: 65536, corsOrigins: '*', maxSubscriptionsPerConnection: 50, maxConnectionsPerUser: 20, wsMessagesPerSecond: 100, wsMessageBurst: 100 },
      authenticate: async () => ({ identity: null }),
      trustedDocuments: trustedDocuments('off'),
      refusesAnonymousConnections: false,
      maxBufferedBytes: 1 << 20,
      keepAliveMs: 0,
      onSocketError: () => undefined,
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const client = createClient({ url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/graphql`, webSocketImpl: WebSocket, lazy: false });
    const run = (query: string) =>
      new Promise((resolve, reject) => client.subscribe({ query }, { next: (r) => resolve(r.data), error: reject, complete: () => undefined }));
    try {
      expect(await run('{ a }')).toEqual({ a: 1 });
      expect(await run('{ b }')).toEqual({ b: 2 });
      expect(seen.map((s) => s.query)).toEqual(['{ a }', '{ b }']);
      expect(seen[0]!.context).not.toBe(seen[1]!.context);
    } finally {
      await client.dispose();
      await dispose();
      http.close();
    }
  });
});
