/**
 * graphql-ws served over `ws` through graphql-ws's public makeServer: our own adapter in place of
 * graphql-ws/use/ws, for what that one does not offer:
 * - a socket's messages of one tick leave in one TCP write (TickWriteBatcher on the net.Socket the
 *   HTTP server's 'upgrade' event hands us; nothing of `ws` is replaced or reached into);
 * - a keep-alive interval of our choosing (WS_KEEPALIVE_MS);
 * - socket errors (a message over maxPayload, closed with 1009 by ws) logged by us, not printed.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode, handleProtocols, makeServer, type ServerOptions } from 'graphql-ws';
import { type WebSocket, WebSocketServer, type ServerOptions as WsServerOptions } from 'ws';
import { TickWriteBatcher } from './write-batching.js';

/** What graphql-ws's hooks get as `ctx.extra`, as with use/ws. */
export interface WsExtra {
  socket: WebSocket;
  request: IncomingMessage;
}

export interface WsRouteOptions {
  path: string;
  /** ws options: maxPayload, verifyClient. */
  ws: Pick<WsServerOptions, 'maxPayload' | 'verifyClient'>;
  /** Ping every this many ms; a socket that has not answered by the next ping is terminated. 0: none. */
  keepAliveMs: number;
  onSocketError(error: unknown): void;
}

export function serveGraphQLWs(
  httpServer: Server,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  serverOptions: ServerOptions<any, WsExtra>,
  options: WsRouteOptions,
): { dispose(): Promise<void> } {
  const wsServer = new WebSocketServer({ noServer: true, path: options.path, handleProtocols, ...options.ws });
  const rawSockets = new WeakMap<WebSocket, Duplex>();
  const batcher = new TickWriteBatcher();
  // handleUpgrade answers 400 to another path and 403 to an origin verifyClient refuses.
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) =>
    wsServer.handleUpgrade(request, socket, head, (ws) => {
      rawSockets.set(ws, socket);
      wsServer.emit('connection', ws, request);
    });
  httpServer.on('upgrade', onUpgrade);
  const server = makeServer(serverOptions);

  wsServer.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    socket.on('error', options.onSocketError);
    let alive = true;
    socket.on('pong', () => (alive = true));
    const ping =
      options.keepAliveMs > 0
        ? setInterval(() => {
            if (!alive) return socket.terminate();
            alive = false;
            socket.ping();
          }, options.keepAliveMs)
        : undefined;
    const raw = rawSockets.get(socket);
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) => {
          if (socket.readyState !== socket.OPEN) return;
          if (raw) batcher.gather(raw);
          socket.send(data);
        },
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', async (data: Buffer) => {
            try {
              await handle(String(data));
            } catch (error) {
              options.onSocketError(error);
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            }
          }),
      },
      { socket, request },
    );
    socket.once('close', (code: number, reason: Buffer) => {
      clearInterval(ping);
      void closed(code, String(reason));
    });
  });

  return {
    async dispose() {
      httpServer.off('upgrade', onUpgrade);
      for (const client of wsServer.clients) client.close(1001, 'Going away');
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
    },
  };
}
