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
  const connections = new WeakMap<WebSocket, WsConnection>();
  const route: Route = { options, batcher: new TickWriteBatcher(), disposing: false };
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

  // Keep-alive: the route's sockets are dealt into slots, and one timer visits one slot per tick, so
  // each socket is looked at once per WS_KEEPALIVE_MS and pings leave spread over the interval rather
  // than all at once (15,000 pings in one tick would hold the event loop for a good part of a second).
  const slots = keepAliveSlots(options.keepAliveMs);
  const wheel: Array<Set<WsConnection>> = Array.from({ length: slots }, () => new Set());
  let nextSlot = 0;
  let tick = 0;
  let pinger: NodeJS.Timeout | undefined;
  const visitSlot = () => {
    for (const connection of wheel[tick]!) connection.keepAlive();
    tick = (tick + 1) % slots;
  };
  // The socket's events, shared by every socket (EventEmitter calls them with the socket as `this`):
  // a socket holds its state in its WsConnection, not in closures of its own.
  function onPong(this: WebSocket) {
    const connection = connections.get(this);
    if (connection) connection.heard = true;
  }
  function onMessage(this: WebSocket, data: Buffer) {
    connections.get(this)?.receive(data);
  }
  function onClose(this: WebSocket, code: number, reason: Buffer) {
    const connection = connections.get(this);
    if (connection) {
      wheel[connection.slot]?.delete(connection);
      connection.closed(code, String(reason));
    }
    connections.delete(this);
    if (pinger && wsServer.clients.size === 0) {
      clearInterval(pinger);
      pinger = undefined;
    }
  }

  wsServer.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    socket.on('error', options.onSocketError);
    const raw = rawSockets.get(socket);
    rawSockets.delete(socket);
    const connection = new WsConnection(socket, raw, route, options.onOpen?.(request));
    connections.set(socket, connection);
    socket.on('pong', onPong);
    if (options.keepAliveMs > 0) {
      connection.slot = nextSlot;
      wheel[nextSlot]!.add(connection);
      nextSlot = (nextSlot + 1) % slots;
      pinger ??= setInterval(visitSlot, options.keepAliveMs / slots);
    }
    socket.on('message', onMessage);
    connection.serverClosed = server.opened(connection, { socket, request });
    // ws emits 'close' once.
    socket.on('close', onClose);
  });

  return {
    async dispose() {
      route.disposing = true;
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
      clearInterval(pinger);
      pinger = undefined;
    },
  };
}

/** What every socket of a route shares. */
interface Route {
  options: WsRouteOptions;
  batcher: TickWriteBatcher;
  /** Going away: nothing new is started, and nothing holds a socket paused. */
  disposing: boolean;
}

const drainLater = (connection: WsConnection) => connection.drain();

/**
 * One socket: graphql-ws's socket (protocol, send, close, onMessage) and its budget of messages, with
 * its state in fields and its behaviour in methods: thousands live at once, and a socket holds no
 * closures of its own.
 */
class WsConnection {
  /** Sent anything (a message, a pong) since the keep-alive last looked at it. */
  heard = true;
  /** Pinged at the keep-alive's last look, and silent since. */
  private pinged = false;
  /** Its place on the keep-alive wheel. */
  slot = 0;
  /** graphql-ws's close handler, set once the socket is opened on its server. */
  serverClosed: ((code: number, reason: string) => Promise<void>) | undefined;
  // Messages are handled at the socket's budget; what comes faster waits here, and reading stops
  // while more than a burst waits (ws may still emit what it had already read).
  private readonly budget: MessageBudget;
  private waiting: string[] = [];
  private handle: ((message: string) => Promise<void>) | undefined;
  private drainTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly raw: Duplex | undefined,
    private readonly route: Route,
    /** The route's onOpen's answer, called once when the socket closes. */
    private readonly onClosed: ((code: number, reason: string) => void) | undefined,
  ) {
    this.budget = new MessageBudget(route.options.messagesPerSecond, route.options.messageBurst);
  }

  get protocol(): string {
    return this.socket.protocol;
  }

  send(data: string): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    if (this.raw) this.route.batcher.gather(this.raw);
    this.socket.send(data);
  }

  close(code?: number, reason?: string): void {
    this.socket.close(code, reason);
  }

  onMessage(run: (message: string) => Promise<void>): void {
    this.handle = run;
    this.drain();
  }

  /**
   * The keep-alive's look, once per interval. A socket heard from since the last look needs no ping:
   * it is alive, and its own traffic keeps load balancers' idle timers from running out. A silent one
   * is pinged, and terminated if still silent at the next look.
   */
  keepAlive(): void {
    if (this.heard) {
      this.heard = false;
      this.pinged = false;
      return;
    }
    if (this.pinged) return this.socket.terminate();
    this.pinged = true;
    this.socket.ping();
  }

  receive(data: Buffer): void {
    this.heard = true;
    const { options } = this.route;
    // Going away: nothing new is started, and nothing holds the socket paused.
    if (this.route.disposing || (options.accepting && !options.accepting())) return;
    this.waiting.push(String(data));
    if (this.waiting.length > options.messageBurst && !this.socket.isPaused) this.socket.pause();
    if (!this.drainTimer) this.drain();
  }

  drain(): void {
    this.drainTimer = undefined;
    const { waiting } = this;
    while (waiting.length > 0 && this.handle) {
      const waitMs = this.budget.take();
      if (waitMs > 0) {
        this.drainTimer = setTimeout(drainLater, waitMs, this);
        break;
      }
      this.dispatch(this.handle, waiting.shift()!);
    }
    if (waiting.length <= this.route.options.messageBurst && this.socket.isPaused) this.socket.resume();
    // An emptied queue gives its grown backing store back (a socket is idle most of its life).
    if (waiting.length === 0) this.waiting = [];
  }

  /** Runs one message; a subscription's run lasts as long as the subscription. */
  private dispatch(run: (message: string) => Promise<void>, message: string): void {
    let running: Promise<void>;
    try {
      running = run(message);
    } catch (error) {
      return this.failed(error);
    }
    running.then(undefined, (error: unknown) => this.failed(error));
  }

  private failed(error: unknown): void {
    this.route.options.onSocketError(error);
    this.socket.close(CloseCode.InternalServerError, 'Internal server error');
  }

  closed(code: number, reason: string): void {
    clearTimeout(this.drainTimer);
    this.waiting.length = 0;
    this.onClosed?.(code, reason);
    void this.serverClosed?.(code, reason);
  }
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

/** Slots of the keep-alive wheel: a tick about every second (at least 1, at most 60 slots). */
export function keepAliveSlots(keepAliveMs: number): number {
  return Math.max(1, Math.min(60, Math.round(keepAliveMs / 1000)));
}
