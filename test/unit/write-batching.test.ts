/** The tick write batcher: writes of one tick reach the peer in one TCP segment, later ones are not held back. */
import { once } from 'node:events';
import { createServer, type Socket, connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { TickWriteBatcher } from '../../src/transport/write-batching.js';

async function pair(): Promise<{ client: Socket; server: Socket; close(): void }> {
  const listener = createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const accepted = once(listener, 'connection');
  const client = connect((listener.address() as { port: number }).port, '127.0.0.1');
  client.setNoDelay(true);
  const [server] = (await accepted) as [Socket];
  return { client, server, close: () => (client.destroy(), server.destroy(), listener.close()) };
}

/** The chunks the peer reads until it has `bytes` bytes. */
async function chunks(socket: Socket, bytes: number): Promise<string[]> {
  const seen: string[] = [];
  let total = 0;
  while (total < bytes) {
    const [data] = (await once(socket, 'data')) as [Buffer];
    seen.push(data.toString());
    total += data.length;
  }
  return seen;
}

describe('TickWriteBatcher', () => {
  it('gathers the writes of one tick into one chunk, and does not hold back the next tick', async () => {
    const { client, server, close } = await pair();
    try {
      const batcher = new TickWriteBatcher();
      const received = chunks(server, 9);
      for (const message of ['aaa', 'bbb', 'ccc']) {
        batcher.gather(client);
        client.write(message);
      }
      expect(await received).toEqual(['aaabbbccc']);
      // Next tick: nothing is left corked.
      const later = chunks(server, 3);
      client.write('ddd');
      expect(await later).toEqual(['ddd']);
      expect(client.writableCorked).toBe(0);
    } finally {
      close();
    }
  });

  it('ignores a destroyed socket', () => {
    const batcher = new TickWriteBatcher();
    const socket = { destroyed: true, cork: () => expect.fail('corked a destroyed socket') } as unknown as Socket;
    batcher.gather(socket);
    batcher.flush();
  });
});
