/**
 * graphql-ws on the HTTP server's /graphql path (subprotocol graphql-transport-ws). Every operation goes
 * through yoga.getEnveloped, so WebSocket operations share HTTP's plugins, context and parse/validate
 * caches. Subscriptions run through sharedSubscribe: one execution and one JSON per event and document,
 * written straight into each socket's `next` messages.
 */
import type { Server } from 'node:http';
import { type ExecutionArgs, type ExecutionResult, GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { type WebSocket, WebSocketServer } from 'ws';
import type { YogaServerInstance } from 'graphql-yoga';
import type { SecurityConfig } from '../config.js';
import { withContractCode } from './mask-error.js';
import { type DirectSocket, type MaskErrors, SharedResult, sharedSubscribe } from './shared-subscribe.js';
import { ConnectionsPerUser, TooManyConnections, operationLimitError, webSocketServerOptions } from './ws-guards.js';

export interface WsGuards {
  security: Pick<SecurityConfig, 'wsMaxMessageBytes' | 'corsOrigins' | 'maxSubscriptionsPerConnection' | 'maxConnectionsPerUser'>;
  /** The user a connection's connectionParams name, if any: sockets are counted per user. */
  userOf(connectionParams: Readonly<Record<string, unknown>> | undefined): string | undefined;
  /** Bytes waiting on a socket before a subscription on it is ended as too slow (SUBSCRIBER_MAX_BUFFERED_BYTES). */
  maxBufferedBytes: number;
}

interface EnvelopedRoot {
  execute(args: ExecutionArgs): unknown;
  /** For subscriptions: the socket and operation id their events can be written to directly. */
  direct: DirectSocket;
}

/**
 * The messages a socket sends in one tick leave in one write: a mutation's `next` and `complete`, or
 * the events of one batch. The kernel's write per message is the largest cost of a delivery.
 */
const corked = new Set<WebSocket>();
const uncorkedSend = new WeakMap<WebSocket, (data: Buffer) => void>();
function cork(socket: WebSocket): void {
  if (corked.has(socket)) return;
  const raw = (socket as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
  if (!raw) return;
  raw.cork();
  corked.add(socket);
  if (corked.size === 1) process.nextTick(uncorkAll);
}
function uncorkAll(): void {
  for (const socket of corked) (socket as unknown as { _socket?: { uncork(): void } })._socket?.uncork();
  corked.clear();
}

/** Returns a function that closes every socket and the WebSocket server. */
export function attachGraphQLWs(
  httpServer: Server,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  yoga: YogaServerInstance<any, any>,
  path: string,
  maskError: (error: unknown, message: string) => Error,
  guards: WsGuards,
): () => Promise<void> {
  const wsServer = new WebSocketServer({ server: httpServer, path, ...webSocketServerOptions(guards.security) });
  const connections = new ConnectionsPerUser(guards.security.maxConnectionsPerUser);
  const counted = new WeakMap<object, string>();
  const envelopedByConnection = new WeakMap<object, ReturnType<typeof yoga.getEnveloped>>();
  // Registered before graphql-ws's own handler: every message of the socket passes through here.
  wsServer.on('connection', (socket) => {
    const original = socket.send.bind(socket);
    const send = original as unknown as (data: unknown, callback?: (error?: Error) => void) => void;
    // Fan-out writes one message per socket and event: nothing to gather, so they skip the corking.
    uncorkedSend.set(socket, (data: Buffer) => original(data, { binary: false }));
    socket.send = ((data: unknown, ...rest: unknown[]) => {
      cork(socket);
      const callback = rest.find((r): r is (error?: Error) => void => typeof r === 'function');
      send(data);
      // Written at the end of the tick with the socket's other messages; a socket that fails is
      // closed and cleaned up by its close handler, so there is nothing to report here.
      if (callback) queueMicrotask(() => callback());
    }) as typeof socket.send;
  });
  const maskErrors: MaskErrors = (result: ExecutionResult) =>
    result.errors ? { ...result, errors: result.errors.map((e) => maskError(e, 'Unexpected error.') as GraphQLError) } : result;

  const server = useServer(
    {
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => sharedSubscribe({ ...args, rootValue: undefined }, maskErrors, (args.rootValue as EnvelopedRoot).direct) as never,
      // Subscriptions over this socket are written directly (writeDirectly); a source that cannot push
      // comes here with shared results, which graphql-ws serializes like any other.
      onNext: (_ctx, _id, _payload, _args, result) =>
        (result as unknown) instanceof SharedResult ? ((result as unknown as SharedResult).result as never) : undefined,
      onConnect: (ctx) => {
        const userId = guards.userOf(ctx.connectionParams);
        if (userId === undefined) return true;
        if (!connections.tryOpen(userId)) {
          // Closed here with our own code; graphql-ws's own close that follows (4403) finds it closing.
          ctx.extra.socket.close(TooManyConnections, 'Too many connections for this user');
          return false;
        }
        counted.set(ctx, userId);
        return true;
      },
      onClose: (ctx) => {
        const userId = counted.get(ctx);
        if (userId !== undefined) connections.close(userId);
        counted.delete(ctx);
      },
      onSubscribe: async (ctx, id, payload) => {
        const overLimit = operationLimitError(ctx.subscriptions, guards.security.maxSubscriptionsPerConnection);
        if (overLimit) return [overLimit];
        // One envelop orchestration per connection, not per operation: the context the plugins see is
        // the connection's (its identity comes from connectionParams, fixed at connection_init).
        let enveloped = envelopedByConnection.get(ctx);
        if (!enveloped) {
          enveloped = yoga.getEnveloped({ ...ctx, req: ctx.extra.request, socket: ctx.extra.socket, params: payload });
          envelopedByConnection.set(ctx, enveloped);
        }
        const { schema, execute, contextFactory, parse, validate } = enveloped;
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          if (error instanceof GraphQLError) return [withContractCode(error)];
          throw error;
        }
        let errors: readonly GraphQLError[];
        try {
          errors = validate(schema, document);
        } catch (error) {
          // graphql-armor's limits throw from inside validation to stop it early.
          if (error instanceof GraphQLError) return [withContractCode(error)];
          throw error;
        }
        if (errors.length > 0) return errors.map((e: GraphQLError) => withContractCode(e));
        const args: ExecutionArgs = {
          schema,
          operationName: payload.operationName ?? null,
          document,
          variableValues: payload.variables ?? null,
          contextValue: await contextFactory(),
          rootValue: { execute, direct: { socket: ctx.extra.socket as DirectSocket['socket'], id, send: uncorkedSend.get(ctx.extra.socket), maxBufferedBytes: guards.maxBufferedBytes } } satisfies EnvelopedRoot,
        };
        return args;
      },
    },
    wsServer,
  );
  return async () => {
    await server.dispose();
    await new Promise<void>((resolve) => wsServer.close(() => resolve()));
  };
}
