/**
 * A whole Redis Cluster (3 masters, AOF with fsync on every write) SIGKILLed under a stream of writes
 * and started again on the same ports: queries and mutations are refused with STORE_UNAVAILABLE
 * within STORE_TIMEOUT_MS while it is down, everything resumes without restarting the service, no acknowledged write
 * is lost, and a follower over graphql-ws sees every version once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mutate, post, wsClient } from '../utils/clients.js';
import { JOIN, ROOM_QUERY, type RoomData } from '../utils/operations.js';
import { type RedisClusterProcess, startRedisCluster } from '../utils/redis-cluster.js';
import { startServer, testPrefix, type TestServer } from '../utils/server.js';
import { expectAcknowledgedWritesKept, RoomFollower, startWriteStream } from '../utils/write-stream.js';

const alice = { userId: 'alice', userName: 'Alice' };
const STORE_TIMEOUT_MS = 1500;

let cluster: RedisClusterProcess;
let server: TestServer;
beforeAll(async () => {
  cluster = await startRedisCluster({ persistent: true });
  server = await startServer({ REDIS_CLUSTER_NODES: cluster.nodes.join(','), REDIS_KEY_PREFIX: testPrefix('outage'), STORE_TIMEOUT_MS: String(STORE_TIMEOUT_MS) });
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await cluster?.dispose();
});

describe('the whole Redis Cluster down and back', () => {
  it('refuses within STORE_TIMEOUT_MS while down, resumes by itself, keeps every acknowledged write, and a follower sees every version once', async () => {
    const tx = 'cluster-outage-1';
    await mutate(server.url, alice, JOIN, { tx });
    const client = wsClient(server.wsUrl, { userId: 'watcher' });
    const follower = new RoomFollower(client, tx);
    const stream = startWriteStream([server.url], alice, tx);
    const ports = cluster.nodes.map((node) => Number(node.split(':')[1]));
    try {
      await stream.acknowledged(20);
      const killedAt = Date.now();
      await Promise.all(ports.map((port) => cluster.kill(port)));
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const started = Date.now();
      const query = await post(server.url, alice, ROOM_QUERY, { tx });
      expect(query.errors?.map((e) => e.extensions?.code)).toEqual(['STORE_UNAVAILABLE']);
      expect(Date.now() - started).toBeLessThan(STORE_TIMEOUT_MS + 500);

      const restartedAt = Date.now();
      await Promise.all(ports.map((port) => cluster.restart(port)));
      await cluster.waitOk();
      const okAt = Date.now();
      await stream.acknowledged(20);
      const outcomes = await stream.stop();

      const refused = outcomes.filter((o) => o.version === null);
      expect(refused.length).toBeGreaterThan(0);
      expect(new Set(refused.map((o) => o.code))).toEqual(new Set(['STORE_UNAVAILABLE']));
      for (const o of refused) expect(o.doneAt - o.sentAt).toBeLessThan(STORE_TIMEOUT_MS + 500);
      const back = outcomes.find((o) => o.version !== null && o.sentAt > refused.at(-1)!.sentAt)!;
      console.info(
        `[measure] whole cluster SIGKILLed and restarted: first refusal ${refused[0]!.doneAt - killedAt} ms after the kill; ` +
          `refusals took at most ${Math.max(...refused.map((o) => o.doneAt - o.sentAt))} ms; cluster_state:ok ${okAt - restartedAt} ms after the restart began; ` +
          `first acknowledged write ${back.doneAt - okAt} ms after cluster_state:ok; ${refused.length} refused, ${outcomes.length - refused.length} acknowledged`,
      );

      await expectAcknowledgedWritesKept(server.url, alice, tx, outcomes);
      const room = (await mutate<{ conflictRoom: RoomData }>(server.url, alice, ROOM_QUERY, { tx })).conflictRoom;
      await follower.reach(room.version);
      expect(follower.versions).toEqual(Array.from({ length: room.version }, (_, i) => i + 1));
      console.info(`[measure] the follower resubscribed ${follower.resumes} time(s)`);
    } finally {
      await stream.stop();
      follower.close();
      await client.dispose();
    }
  }, 90_000);
});
