/**
 * Composition root: config -> store -> services -> GraphQL over HTTP, SSE and graphql-ws on one
 * /graphql endpoint. buildApp() returns { start, stop } and never touches process signals.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createYoga } from 'graphql-yoga';
import { createAdapters } from './adapters/index.js';
import { type Authentication, type Authenticator, devAuthenticator } from './auth/identity.js';
import { jwtAuthenticator } from './auth/jwt.js';
import type { Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import type { GraphQLContext } from './schema/builder.js';
import { schema } from './schema/index.js';
import { PresenceTracker } from './services/presence.js';
import { PresenceSweeper } from './services/presence-sweeper.js';
import { createWebhookWorker } from './services/webhook-wiring.js';
import type { ResolutionWebhooks } from './services/webhook-wiring.js';
import { createRateLimit } from './services/rate-limit.js';
import { RoomService } from './services/room-service.js';
import { RoomStreamSource } from './services/room-stream.js';
import { boundedParserCache, documentLimits } from './transport/document-limits.js';
import { cachedGraphiQL } from './transport/graphiql.js';
import { jitDocuments, useLazyGraphQlJit } from './transport/lazy-jit.js';
import { attachGraphQLWs } from './transport/graphql-ws.js';
import { corsFor, httpGuards } from './transport/http-guards.js';
import { useSharedSubscriptions } from './transport/shared-subscribe.js';
import { isClientError, maskError, useContractErrorCodes } from './transport/mask-error.js';
import { trustedDocuments } from './transport/trusted-documents.js';
import { Drain } from './ops/drain.js';
import { opsHttp, requestIdFrom } from './ops/http.js';
import { Metrics } from './ops/metrics.js';
import { useOperations } from './ops/operations.js';
import { Readiness } from './ops/readiness.js';

export const graphqlPath = '/graphql';

export interface App {
  /** Listens; resolves to the GraphQL URL (http://host:port/graphql). */
  start(): Promise<{ url: string; port: number }>;
  /**
   * Drains (README, "Operations"): new requests get 503 and new sockets are refused, operations in
   * flight finish, SSE streams end, WebSockets close with 1001, presence is released, the store closed.
   */
  stop(): Promise<void>;
  /** "redis" or "memory". */
  storeKind: 'redis' | 'memory';
  /** The resolution webhook's counters and failed deliveries; null without RESOLUTION_WEBHOOK_URL. */
  webhooks: ResolutionWebhooks | null;
}

const defaultQuery = `# Try it: these headers (bottom panel) say who you are in development mode.
mutation Join {
  joinConflictRoom(transactionId: "tx-1", userName: "Alice") { version participants { userId name online } }
}

mutation Select {
  selectField(transactionId: "tx-1", field: "price", value: "45000") { version selections { field value userName } }
}

query Room {
  conflictRoom(transactionId: "tx-1") { version epoch status selections { field value userName version } participants { name isReady online } }
}

subscription Events {
  conflictRoomEvents(transactionId: "tx-1", afterVersion: 0) { __typename version userId ... on FieldSelected { selection { field value } } }
}
`;

export async function buildApp(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<App> {
  const drain = new Drain();
  const metrics = config.metricsEnabled ? new Metrics() : null;
  metrics?.countInFlight(() => drain.pending);
  const adapters = await createAdapters(config, logger, metrics ? { onFanOut: (batch) => metrics.fanOut(batch) } : {});
  const untraceRedis = metrics && adapters.kind === 'redis' ? metrics.traceRedisCommands() : undefined;
  const readiness = new Readiness({
    ping: () => adapters.store.ping(),
    timeoutMs: Math.min(1000, config.redis.timeoutMs),
    onChange: (answers, error) => {
      metrics?.ready.set(answers && !drain.isDraining ? 1 : 0);
      if (answers) logger.info('ready: the store answers');
      else logger.warn({ err: error }, 'not ready: the store does not answer');
    },
  });
  const rateLimit = createRateLimit({
    ...config.rateLimit,
    redis: adapters.redis && { client: adapters.redis.client, keyPrefix: adapters.redis.keys.rateLimitPrefix },
  });
  const webhooks = config.resolutionWebhook ? createWebhookWorker(config.resolutionWebhook, adapters.outbox, logger) : null;
  const rooms = new RoomService({
    store: adapters.store,
    presence: adapters.presence,
    limits: config.limits,
    rateLimit,
    ...(webhooks ? { onResolved: () => webhooks.kick() } : {}),
    ...(metrics ? { onCommit: (status, seconds, retry) => metrics.commit(status, seconds, retry) } : {}),
  });
  const onError = (error: unknown, context: string) => logger.error({ err: error }, context);
  const presence = new PresenceTracker({ store: adapters.presence, rooms, instanceId: config.instanceId, onError });
  const sweeper = new PresenceSweeper({
    store: adapters.presence,
    rooms,
    tracker: presence,
    timeoutMs: config.presenceTimeoutMs,
    onError: (error, context) => {
      if (context === 'presence sweep failed') metrics?.presenceSweepFailed();
      logger.warn({ err: error }, context);
    },
    onSwept: (owner, swept) => {
      metrics?.presenceSwept(swept.length);
      logger.info({ owner, rooms: swept.length }, 'presence: swept a dead instance');
    },
  });
  const streamDeps = {
    store: adapters.store,
    events: adapters.events,
    presence,
    onError,
    ...(metrics ? { onStreamOpen: () => metrics.subscriptionOpened() } : {}),
  };
  const auth: Authenticator = config.jwt
    ? jwtAuthenticator({ ...config.jwt, onKeysUnavailable: (error) => logger.warn({ err: error }, 'JWT: the key set could not be fetched') })
    : devAuthenticator;
  const { security } = config;
  const trusted = trustedDocuments(config.trustedDocuments.mode, config.trustedDocuments.manifests);
  jitDocuments.trust(trusted.texts());
  const graphiql = security.graphiql
    ? [
        cachedGraphiQL(graphqlPath, {
          title: 'conflict-rooms',
          defaultQuery,
          headers: JSON.stringify(
            config.jwt ? { authorization: 'Bearer <a token: npm run token -- --sub alice --name Alice --tx tx-1>' } : { 'x-user-id': 'alice', 'x-user-name': 'Alice' },
            null,
            2,
          ),
        }),
      ]
    : [];

  const yoga = createYoga<Record<string, unknown>, GraphQLContext>({
    schema,
    graphqlEndpoint: graphqlPath,
    landingPage: false,
    // Served by cachedGraphiQL (built once, with caching and security headers) where it is on.
    graphiql: false,
    maskedErrors: { maskError, isDev: false },
    maxRequestBodySize: security.maxBodyBytes,
    multipart: false,
    cors: corsFor(security.corsOrigins),
    // A client app sends a handful of distinct documents; a compiled one near the token limit costs
    // about 1 MB (measured: bench/results/hostile.md), so 100 bound the cache to about 100 MB.
    parserAndValidationCache: boundedParserCache(100),
    // Queries and mutations run compiled (graphql-jit): a whole-room sync resolves hundreds of fields,
    // and a mutation is the hot path. Subscription events are executed once per event and document,
    // compiled too (src/transport/shared-subscribe.ts).
    plugins: [
      ...(metrics ? [metrics.yogaPlugin()] : []),
      useOperations({ drain, metrics, logger }),
      ...graphiql,
      ...httpGuards(),
      // Before the limits: a hash becomes its text here, and the text is then held to the same limits.
      ...trusted.plugins(),
      ...documentLimits(security),
      useContractErrorCodes(),
      // SSE subscriptions share each event's execution, as graphql-ws ones do.
      useSharedSubscriptions(),
      // Queries and single-field mutations, within a bound of distinct documents; loaded on first use
      // (src/transport/lazy-jit.ts says what stays on graphql-js, and why).
      useLazyGraphQlJit(),
    ],
    logging: {
      // Yoga logs at debug level several times per request: skip building the arguments unless wanted.
      debug: logger.isLevelEnabled('debug') ? (...args: unknown[]) => logger.debug(args) : () => undefined,
      info: (...args: unknown[]) => logger.info(args),
      warn: (...args: unknown[]) => logger.warn(args),
      // Yoga logs every error it rewrites; the ones with a code are the client's business.
      error: (error: unknown, ...rest: unknown[]) =>
        isClientError(error) ? logger.debug({ err: error }, 'client error') : logger.error({ err: error, rest }, 'GraphQL error'),
    },
    context: async (initial): Promise<GraphQLContext> => {
      // graphql-ws operations arrive with the credentials their connection presented at
      // connection_init (src/transport/graphql-ws.ts), which also closes it when they expire; HTTP
      // and SSE requests bring their own, and an SSE stream ends when they expire.
      const overSocket = 'socket' in initial;
      const { identity, failure } = overSocket
        ? (initial['authentication'] as Authentication)
        : await auth.fromHeaders((initial['request'] as Request).headers);
      return {
        identity,
        ...(failure !== undefined ? { authFailure: failure } : {}),
        ...(!overSocket && identity?.expiresAt !== undefined ? { streamDeadline: identity.expiresAt } : {}),
        rooms,
        limits: config.limits,
        rateLimit,
        openStream: (request) => new RoomStreamSource(streamDeps, request),
      };
    },
  });

  const http = opsHttp({ yoga, drain, readiness, metrics, logger });
  const httpServer = createServer(http.handle);
  const socketIds = new WeakMap<IncomingMessage, string>();
  const socketIdOf = (request: IncomingMessage) => {
    let id = socketIds.get(request);
    // A socket's id lives as long as the socket: kept flat (randomUUID's is a chain of string pieces, ~350 bytes).
    if (id === undefined) socketIds.set(request, (id = Buffer.from(requestIdFrom(request.headers['x-request-id']), 'latin1').toString('latin1')));
    return id;
  };
  const closeWs = attachGraphQLWs(httpServer, yoga, graphqlPath, maskError, {
    security,
    authenticate: (params) => auth.fromConnectionParams(params),
    trustedDocuments: trusted,
    refusesAnonymousConnections: auth.refusesAnonymousConnections,
    maxBufferedBytes: config.subscriberMaxBufferedBytes,
    keepAliveMs: config.wsKeepAliveMs,
    onSocketError: (error) => logger.debug({ err: error }, 'WebSocket error'),
    accepting: () => !drain.isDraining,
    requestIdOf: socketIdOf,
    onOpen: (request) => {
      const requestId = socketIdOf(request);
      const opened = Date.now();
      const closedGauge = metrics?.websocketOpened();
      logger.info({ requestId, transport: 'websocket' }, 'connection opened');
      return (code, reason) => {
        closedGauge?.();
        logger.info({ requestId, transport: 'websocket', code, reason, durationMs: Date.now() - opened }, 'connection closed');
      };
    },
  });

  return {
    storeKind: adapters.kind,
    webhooks,
    async start() {
      await new Promise<void>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(config.port, config.host, () => resolve());
      });
      await presence.start();
      await readiness.start();
      sweeper.start();
      webhooks?.start();
      const { port } = httpServer.address() as AddressInfo;
      const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
      return { url: `http://${host.includes(':') ? `[${host}]` : host}:${port}${graphqlPath}`, port };
    },
    async stop() {
      const began = Date.now();
      drain.begin();
      metrics?.draining.set(1);
      metrics?.ready.set(0);
      // Operations under way get their replies; a mutation sent now is refused (HTTP 503) or resent by
      // its client to another instance (graphql-ws). Bounded, so sockets close within the contract's 10 s.
      const settled = await drain.idle(Math.min(8000, config.shutdownTimeoutMs / 2));
      // An operation counts as done when its execute resolves; graphql-ws writes its reply in the
      // microtasks after that. Let them run before any close frame is queued behind them.
      await new Promise((resolve) => setImmediate(resolve));
      const inFlightMs = Date.now() - began;
      await Promise.all([http.endSseStreams(1000), closeWs()]);
      logger.info({ inFlightMs, settled, socketsClosedMs: Date.now() - began }, 'draining: operations finished, streams ended, sockets closed');
      readiness.stop();
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      await sweeper.stop();
      // Attempts under way are handed back to the outbox for another instance before Redis closes.
      await webhooks?.stop();
      // Closed subscriptions release their presence; what cannot land now is swept by the others later.
      await presence.stop(3000);
      await adapters.close();
      untraceRedis?.();
    },
  };
}
