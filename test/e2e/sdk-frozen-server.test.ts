/**
 * An instance that freezes without closing anything (SIGSTOP: a hung process, a dead network path): the
 * room client's pings go unanswered, it drops the socket, reconnects to the other instance and resumes,
 * instead of showing `live` while the room moves on without it (found by the outside probe).
 */
import WebSocket from 'ws';
import { afterAll, expect, inject, it } from 'vitest';
import { createRoomClient } from '../../src/sdk/index.js';
import { eventually, mutate } from '../utils/clients.js';
import { JOIN, SELECT } from '../utils/operations.js';
import { type InstanceProcess, startInstanceProcess } from '../utils/instance-process.js';
import { deletePrefix, testPrefix } from '../utils/server.js';

const redisUrl = inject('redisUrl');
const prefix = testPrefix('frozen');
const instances: InstanceProcess[] = [];

afterAll(async () => {
  for (const instance of instances) {
    instance.child.kill('SIGCONT');
    await instance.kill();
  }
  await deletePrefix(redisUrl, prefix);
});

it('a room client on a frozen instance moves to the other one and catches up', async () => {
  const env = { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix };
  instances.push(await startInstanceProcess(env), await startInstanceProcess(env));
  const [frozen, healthy] = instances as [InstanceProcess, InstanceProcess];
  const tx = 'frozen-1';
  const bob = { userId: 'bob', userName: 'Bob' };
  await mutate(healthy.url, bob, JOIN, { tx });

  // The first connection goes to the instance that will freeze, every later one to the other.
  let connects = 0;
  const rooms = createRoomClient({
    url: () => (connects++ === 0 ? frozen.wsUrl : healthy.wsUrl),
    connectionParams: { userId: 'alice', userName: 'Alice' },
    webSocketImpl: WebSocket,
    retryWait: () => new Promise((resolve) => setTimeout(resolve, 50)),
    keepAlive: { intervalMs: 300, timeoutMs: 300 },
  });
  try {
    const room = await rooms.watchRoom(tx);
    await eventually(() => room.status === 'live', 5000, 'the room live on the first instance');
    const statuses: string[] = [];
    room.onStatus((status) => statuses.push(status));

    frozen.child.kill('SIGSTOP');
    const { selectField } = await mutate<{ selectField: { version: number } }>(healthy.url, bob, SELECT, { tx, field: 'price', value: '45000' });
    // Without pings the socket to the stopped process looks open: the client would wait for ever.
    await eventually(() => room.state.version === selectField.version, 5000, 'the room client catching up through the other instance');
    expect(room.state.selections.map((s) => [s.field, s.value])).toEqual([['price', '45000']]);
    expect(statuses).toContain('offline');
    expect(room.status).toBe('live');
    expect(connects).toBeGreaterThanOrEqual(2);
  } finally {
    await rooms.dispose();
  }
});
