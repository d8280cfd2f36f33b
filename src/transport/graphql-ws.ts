/**
 * graphql-ws on the HTTP server's /graphql path (subprotocol graphql-transport-ws), served by our
 * adapter on graphql-ws's makeServer (src/transport/ws-adapter.ts). Every operation goes through its own
 * yoga.getEnveloped, so WebSocket operations share HTTP's plugins, context and parse/validate caches. Subscriptions run through sharedSubscribe: one execution and one JSON per event and document,
 * written straight into each socket's `next` messages.
 */
import type { IncomingMessage, Server } from 'node:http';
import { type ExecutionArgs, type ExecutionResult, getOperationAST, GraphQLError } from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import type { Authentication } from '../auth/identity.js';
import type { SecurityConfig } from '../config.js';
import { withContractCode as withHttpContractCode } from './mask-error.js';
import type { TrustedDocuments } from './trusted-documents.js';
import { type DirectSocket, type MaskErrors, SharedResult, sharedSubscribe } from './shared-subscribe.js';
import { serveGraphQLWs } from './ws-adapter.js';
import { ConnectionsPerUser, TooManyConnections, operationLimitError, webSocketServerOptions } from './ws-guards.js';

export interface WsGuards {
  security: Pick<
    SecurityConfig,
    'wsMaxMessageBytes' | 'corsOrigins' | 'maxSubscriptionsPerConnection' | 'maxConnectionsPerUser' | 'wsMessagesPerSecond' | 'wsMessageBurst'
  >;
  /**
   * Reads a connection's credentials once, at connection_init; its operations all act as that
   * identity, and sockets are counted per user.
   */
  authenticate(connectionParams: Readonly<Record<string, unknown>> | undefined): Promise<Authentication>;
  /** TRUSTED_DOCUMENTS: a hash becomes its text here, as yoga's plugin does for HTTP and SSE. */
  trustedDocuments: Pick<TrustedDocuments, 'resolve'>;
  /** Whether a connection without valid credentials is refused at connection_init (jwt mode). */
  refusesAnonymousConnections: boolean;
  /** Bytes waiting on a socket before a subscription on it is ended as too slow (SUBSCRIBER_MAX_BUFFERED_BYTES). */
  maxBufferedBytes: number;
  /** WS_KEEPALIVE_MS: ping interval; a socket silent through one interval is terminated. */
  keepAliveMs: number;
  /** A socket's own errors (a message over the size limit, say): logged, the socket is closed by ws. */
  onSocketError(error: unknown): void;
  /** False while draining: new upgrades get 503 and new messages are not read (src/transport/ws-adapter.ts). */
  accepting?(): boolean;
  /** A socket opened; the returned function is called when it closes (logs, metrics). */
  onOpen?(request: IncomingMessage): (code: number, reason: string) => void;
  /** The request id of a socket's upgrade request; each operation's is this id, "/", its operation id. */
  requestIdOf?(request: IncomingMessage): string;
}

/**
 * Credentials refused, or run out: the socket closes with 4403 and the reason. graphql-ws clients
 * retry 4403 (unlike 4401), calling a connectionParams function again, so a client that fetches a
 * fresh token reconnects and resumes by itself; one with a fixed bad token gives up after its retries.
 */
export const CredentialsRefused = 4403;
/** A close reason is at most 123 bytes of UTF-8; ours are ASCII. */
const closeReason = (message: string) => `UNAUTHENTICATED: ${message}`.slice(0, 123);
/** The contract's code, without the HTTP status graphql-js and yoga put beside it (no status on a socket). */
function withContractCode(error: GraphQLError): GraphQLError {
  const coded = withHttpContractCode(error);
  if (coded.extensions['http'] === undefined) return coded;
  const { http: _status, ...extensions } = coded.extensions;
  return new GraphQLError(coded.message, { nodes: coded.nodes ?? null, source: coded.source ?? null, positions: coded.positions ?? null, path: coded.path ?? null, extensions });
}
/** setTimeout's largest delay; a later expiry is checked again when it fires. */
const maxTimerMs = 2 ** 31 - 1;

interface EnvelopedRoot {
  execute(args: ExecutionArgs): unknown;
  /** For subscriptions: the socket and operation id their events can be written to directly. */
  direct: DirectSocket;
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
  const connections = new ConnectionsPerUser(guards.security.maxConnectionsPerUser);
  const counted = new WeakMap<object, string>();
  const authenticated = new WeakMap<object, Authentication>();
  const expiryTimers = new WeakMap<object, ReturnType<typeof setTimeout>>();
  // A socket can close while its credentials are being verified (onConnect awaits): onClose has then
  // already run, and counting it afterwards would hold one of its user's sockets forever.
  const closedSockets = new WeakSet<object>();
  /** Closes the socket when its credentials run out, so nothing streams on past the token's life. */
  const closeAtExpiry = (ctx: object, socket: { close(code: number, reason: string): void }, expiresAt: number) => {
    const delay = expiresAt - Date.now();
    const timer = setTimeout(
      () => (delay > maxTimerMs ? closeAtExpiry(ctx, socket, expiresAt) : socket.close(CredentialsRefused, closeReason('The token has expired: get a new one.'))),
      Math.max(0, Math.min(delay, maxTimerMs)),
    );
    timer.unref?.();
    expiryTimers.set(ctx, timer);
  };
  const maskErrors: MaskErrors = (result: ExecutionResult) =>
    result.errors ? { ...result, errors: result.errors.map((e) => maskError(e, 'Unexpected error.') as GraphQLError) } : result;

  const route = serveGraphQLWs(
    httpServer,
    {
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => {
        const { direct } = args.rootValue as EnvelopedRoot;
        const started = sharedSubscribe({ ...args, rootValue: undefined }, maskErrors, direct);
        // graphql-ws holds these arguments for as long as the subscription lives (it hands them to
        // onNext, which reads only the result): the operation's context (its envelop context, the
        // upgrade request, the resolvers' services) and root were for starting it, and are let go.
        args.contextValue = undefined;
        args.rootValue = undefined;
        return started as never;
      },
      // Subscriptions over this socket are written directly (writeDirectly); a source that cannot push
      // comes here with shared results, which graphql-ws serializes like any other.
      onNext: (_ctx, _id, _payload, _args, result) =>
        (result as unknown) instanceof SharedResult ? ((result as unknown as SharedResult).result as never) : undefined,
      onConnect: async (ctx) => {
        const authentication = await guards.authenticate(ctx.connectionParams);
        if (closedSockets.has(ctx)) return false;
        const { identity } = authentication;
        if (!identity && guards.refusesAnonymousConnections) {
          ctx.extra.socket.close(CredentialsRefused, closeReason(authentication.failure ?? 'Send credentials.'));
          return false;
        }
        authenticated.set(ctx, authentication);
        if (identity?.expiresAt !== undefined) closeAtExpiry(ctx, ctx.extra.socket, identity.expiresAt);
        const userId = identity?.userId;
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
        closedSockets.add(ctx);
        clearTimeout(expiryTimers.get(ctx));
        const userId = counted.get(ctx);
        if (userId !== undefined) connections.close(userId);
        counted.delete(ctx);
      },
      onSubscribe: async (ctx, id, payload) => {
        const overLimit = operationLimitError(ctx.subscriptions, guards.security.maxSubscriptionsPerConnection);
        if (overLimit) return [overLimit];
        // A fresh envelop context per operation, as yoga's graphql-ws recipe does: plugins (limits,
        // auth, tracing) see this operation's params, not the socket's first operation's.
        const { schema, execute, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          ...(guards.requestIdOf ? { requestId: `${guards.requestIdOf(ctx.extra.request)}/${id}` } : {}),
          // Read at connection_init (onConnect); the context takes the identity from here.
          authentication: authenticated.get(ctx) ?? { identity: null },
        });
        const query = guards.trustedDocuments.resolve(payload);
        if (query instanceof GraphQLError) return [query];
        let document;
        try {
          document = parse(query);
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
        // As over HTTP (yoga): a document whose operation cannot be told is the client's to fix, with a
        // code, where graphql-ws would answer a bare "Unable to identify operation".
        if (!getOperationAST(document, payload.operationName)) {
          return [withContractCode(new GraphQLError('Could not determine what operation to execute.', { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } }))];
        }
        const args: ExecutionArgs = {
          schema,
          operationName: payload.operationName ?? null,
          document,
          variableValues: payload.variables ?? null,
          contextValue: await contextFactory(),
          rootValue: { execute, direct: { socket: ctx.extra.socket as DirectSocket['socket'], id, maxBufferedBytes: guards.maxBufferedBytes } } satisfies EnvelopedRoot,
        };
        return args;
      },
    },
    {
      path,
      ws: webSocketServerOptions(guards.security),
      keepAliveMs: guards.keepAliveMs,
      messagesPerSecond: guards.security.wsMessagesPerSecond,
      messageBurst: guards.security.wsMessageBurst,
      onSocketError: guards.onSocketError,
      ...(guards.accepting ? { accepting: guards.accepting } : {}),
      ...(guards.onOpen ? { onOpen: guards.onOpen } : {}),
    },
  );
  return () => route.dispose();
}
