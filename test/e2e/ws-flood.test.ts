/**
 * One WebSocket that sends as fast as it can: the server reads it only as fast as its message budget
 * allows (WS_MESSAGES_PER_SECOND, WS_MESSAGE_BURST), so the process stays free for everyone else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { post } from '../utils/clients.js';
import { startServer, type TestServer } from '../utils/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ WS_MESSAGES_PER_SECOND: '50', WS_MESSAGE_BURST: '100' });
});
afterAll(() => server?.stop());

describe('a socket flooding messages', () => {
  it('is read at its budget: a burst of 2,000 operations is answered at about 50 a second, and other users are not kept waiting', async () => {
    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    await new Promise((resolve, reject) => (socket.once('open', resolve), socket.once('error', reject)));
    let answered = 0;
    let acked!: () => void;
    const ack = new Promise<void>((resolve) => (acked = resolve));
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string };
      if (message.type === 'connection_ack') acked();
      if (message.type === 'complete') answered++;
    });
    socket.send(JSON.stringify({ type: 'connection_init', payload: { userId: 'flooder' } }));
    await ack;
    // Distinct documents, each parsed and validated anew: the expensive kind.
    const started = Date.now();
    for (let i = 0; i < 2000; i++) {
      socket.send(JSON.stringify({ id: `q${i}`, type: 'subscribe', payload: { query: `{ conflictRoom(transactionId: "flood-${i}") { version } }` } }));
    }
    // Meanwhile another user is answered at once.
    const before = Date.now();
    const other = await post(server.url, { userId: 'bystander' }, '{ conflictRoom(transactionId: "calm") { version } }');
    const otherMs = Date.now() - before;
    expect(other).toEqual({ data: { conflictRoom: { version: 0 } } });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const elapsedS = (Date.now() - started) / 1000;
    // The burst, then 50 a second; nowhere near the 2,000 sent.
    expect(answered).toBeGreaterThanOrEqual(100);
    expect(answered).toBeLessThanOrEqual(100 + Math.ceil(50 * elapsedS) + 10);
    console.log(`ws flood: ${answered} of 2000 operations answered in ${elapsedS.toFixed(2)} s; another user's query took ${otherMs} ms`);
    socket.terminate();
  });
});
