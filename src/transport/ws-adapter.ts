/**
 * graphql-ws served over `ws` through graphql-ws's public makeServer: our own adapter in place of
 * graphql-ws/use/ws, for what that one does not offer:
 * - a socket's messages of one tick leave in one TCP write (TickWriteBatcher on the net.Socket the
 *   HTTP server's 'upgrade' event hands us; nothing of `ws` is replaced or reached into);
 * - a keep-alive interval of our choosing (WS_KEEPALIVE_MS);
 * - socket errors (a message over maxPayload, closed with 1009 by ws) logged by us, not printed;
 * - a budget of messages per socket: past it the socket is paused (ws's public pause/resume), so the
 *   sender's own TCP window fills and it waits, and one socket cannot keep the process from the others.
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
  /** Messages one socket may send per second, and at once; past them the socket is not read until it may again. */
  messagesPerSecond: number;
  messageBurst: number;
  onSocketError(error: unknown): void;
  /**
   * False while the instance drains: new upgrades are refused with 503, and messages on open sockets
   * are not read (an operation sent now is resent by graphql-ws's client after it reconnects, to
   * another instance). Default: always.
   */
  accepting?(): boolean;
  /** A socket opened (logs, metrics); the returned function is called once when it closes. */
  onOpen?(request: IncomingMessage): (code: number, reason: string) => void;
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
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (options.accepting && !options.accepting()) {
      // graphql-ws clients see a failed connect and retry, reaching another instance.
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wsServer.handleUpgrade(request, socket, head, (ws) => {
      rawSockets.set(ws, socket);
      wsServer.emit('connection', ws, request);
    });
  };
  httpServer.on('upgrade', onUpgrade);
  const server = makeServer(serverOptions);
  let disposing = false;

  wsServer.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    socket.on('error', options.onSocketError);
    const onClosed = options.onOpen?.(request);
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
    // Messages are handled at the socket's budget; what comes faster waits here, and reading stops
    // while more than a burst waits (ws may still emit what it had already read).
    const budget = new MessageBudget(options.messagesPerSecond, options.messageBurst);
    const waiting: string[] = [];
    let handle: ((message: string) => Promise<void>) | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    const drain = () => {
      drainTimer = undefined;
      while (waiting.length > 0 && handle) {
        const waitMs = budget.take();
        if (waitMs > 0) {
          drainTimer = setTimeout(drain, waitMs);
          break;
        }
        void dispatch(handle, waiting.shift()!);
      }
      if (waiting.length <= options.messageBurst && socket.isPaused) socket.resume();
    };
    const dispatch = async (run: (message: string) => Promise<void>, message: string) => {
      try {
        await run(message);
      } catch (error) {
        options.onSocketError(error);
        socket.close(CloseCode.InternalServerError, 'Internal server error');
      }
    };
    socket.on('message', (data: Buffer) => {
      // Going away: nothing new is started, and nothing holds the socket paused.
      if (disposing || (options.accepting && !options.accepting())) return;
      waiting.push(String(data));
      if (waiting.length > options.messageBurst && !socket.isPaused) socket.pause();
      if (!drainTimer) drain();
    });
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) => {
          if (socket.readyState !== socket.OPEN) return;
          if (raw) batcher.gather(raw);
          socket.send(data);
        },
        close: (code, reason) => socket.close(code, reason),
        onMessage: (run) => {
          handle = run;
          drain();
        },
      },
      { socket, request },
    );
    socket.once('close', (code: number, reason: Buffer) => {
      clearInterval(ping);
      clearTimeout(drainTimer);
      waiting.length = 0;
      onClosed?.(code, String(reason));
      void closed(code, String(reason));
    });
  });

  return {
    async dispose() {
      disposing = true;
      httpServer.off('upgrade', onUpgrade);
      for (const client of wsServer.clients) {
        // A paused socket would not read the peer's close frame: the close would wait out ws's 30 s.
        if (client.isPaused) client.resume();
        client.close(1001, 'Going away');
      }
      // A peer that never answers the close frame (a dead network) would hold the stop for ws's 30 s.
      const cutoff = setTimeout(() => {
        for (const client of wsServer.clients) client.terminate();
      }, 2000);
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
      clearTimeout(cutoff);
    },
  };
}

/** A token bucket of messages. */
export class MessageBudget {
  private tokens: number;
  private last = Date.now();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Spends one message and answers 0, or answers how many ms until one may be spent (spending nothing). */
  take(): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.perSecond));
  }
}
