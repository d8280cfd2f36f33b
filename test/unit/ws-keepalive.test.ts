/**
 * The server's keep-alive (WS_KEEPALIVE_MS): a silent socket is pinged, one that does not answer is
 * terminated, and a socket that talks (messages, pongs) is left alone: no ping per interval for it.
 * Real `ws` clients on 127.0.0.1; the interval is short so that the test takes a second or two.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { serveGraphQLWs } from '../../src/transport/ws-adapter.js';

const intervalMs = 100;
let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function server(): Promise<string> {
  const http: Server = createServer();
  const route = serveGraphQLWs(
    http,
    { schema: undefined as never, onConnect: () => true },
    { path: '/graphql', ws: { maxPayload: 65536 }, keepAliveMs: intervalMs, messagesPerSecond: 1000, messageBurst: 1000, onSocketError: () => undefined },
  );
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    await route.dispose();
    await new Promise((resolve) => http.close(resolve));
  });
  return `ws://127.0.0.1:${(http.address() as AddressInfo).port}/graphql`;
}

async function connect(url: string, options: WebSocket.ClientOptions = {}): Promise<{ socket: WebSocket; pings: () => number; closed: Promise<number> }> {
  const socket = new WebSocket(url, 'graphql-transport-ws', options);
  let pings = 0;
  socket.on('ping', () => pings++);
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send(JSON.stringify({ type: 'connection_init' }));
  await new Promise((resolve) => socket.once('message', resolve)); // connection_ack
  cleanups.push(() => socket.terminate());
  return { socket, pings: () => pings, closed };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('WebSocket keep-alive', () => {
  it('pings a silent socket that answers, and keeps it open', async () => {
    const client = await connect(await server());
    await sleep(intervalMs * 8);
    // Every other interval: one to notice the silence, one to ping; each pong makes the socket heard.
    expect(client.pings()).toBeGreaterThanOrEqual(2);
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
  });

  it('terminates a socket that stops answering pings, within three intervals of its last word', async () => {
    const client = await connect(await server(), { autoPong: false });
    const started = Date.now();
    const code = await Promise.race([client.closed, sleep(intervalMs * 10).then(() => 'still open')]);
    // Terminated, not closed with a frame: the peer is presumed gone.
    expect(code).toBe(1006);
    expect(Date.now() - started).toBeLessThanOrEqual(intervalMs * 3 + 150);
    expect(client.pings()).toBe(1);
  });

  it('does not ping a socket that keeps talking', async () => {
    const client = await connect(await server(), { autoPong: false });
    const talking = setInterval(() => client.socket.send(JSON.stringify({ type: 'ping' })), intervalMs / 4);
    cleanups.push(() => clearInterval(talking));
    await sleep(intervalMs * 8);
    expect(client.pings()).toBe(0);
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
  });
});
