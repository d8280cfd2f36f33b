/**
 * Redis killed (SIGKILL) under a stream of writes and started again on the same port, with its data
 * (AOF, fsync on every write): writes are refused with STORE_UNAVAILABLE while it is down, resume
 * without a restart of the service, no acknowledged write is lost, and a follower sees every version once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mutate, wsClient } from '../utils/clients.js';
import { JOIN, ROOM_QUERY, type RoomData } from '../utils/operations.js';
import { type RedisProcess, startRedisServer } from '../utils/redis-server.js';
import { startServer, type TestServer } from '../utils/server.js';
import { expectAcknowledgedWritesKept, RoomFollower, startWriteStream } from '../utils/write-stream.js';

const alice = { userId: 'alice', userName: 'Alice' };
const STORE_TIMEOUT_MS = 1500;

let redis: RedisProcess;
let server: TestServer;
beforeAll(async () => {
  redis = await startRedisServer({ persistent: true });
  server = await startServer({ REDIS_URL: redis.url, STORE_TIMEOUT_MS: String(STORE_TIMEOUT_MS) });
});
afterAll(async () => {
  await server?.stop();
  await redis?.dispose();
});

describe('Redis restarted with its data under a stream of writes', () => {
  it('refuses while down, resumes by itself, keeps every acknowledged write, and a follower sees every version once', async () => {
    const tx = 'restart-1';
    await mutate(server.url, alice, JOIN, { tx });
    const client = wsClient(server.wsUrl, { userId: 'watcher' });
    const follower = new RoomFollower(client, tx);
    const stream = startWriteStream([server.url], alice, tx);
    try {
      await stream.acknowledged(20);
      const killedAt = Date.now();
      await redis.stop();
      // Down for a second: every write meanwhile is refused.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const restartedAt = Date.now();
      await redis.restart();
      await stream.acknowledged(20);
      const outcomes = await stream.stop();

      const refused = outcomes.filter((o) => o.version === null);
      expect(refused.length).toBeGreaterThan(0);
      expect(new Set(refused.map((o) => o.code))).toEqual(new Set(['STORE_UNAVAILABLE']));
      // Fast: none waited out more than the store timeout (most fail at once: the connection is known down).
      for (const o of refused) expect(o.doneAt - o.sentAt).toBeLessThan(STORE_TIMEOUT_MS + 500);
      const firstRefusal = refused[0]!;
      const back = outcomes.find((o) => o.version !== null && o.sentAt >= restartedAt);
      expect(back).toBeDefined();
      console.info(
        `[measure] single Redis SIGKILL + restart: first refusal ${firstRefusal.doneAt - killedAt} ms after the kill; ` +
          `refusals took at most ${Math.max(...refused.map((o) => o.doneAt - o.sentAt))} ms; ` +
          `first acknowledged write ${back!.doneAt - restartedAt} ms after Redis answered again; ${refused.length} refused, ` +
          `${outcomes.length - refused.length} acknowledged`,
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
  }, 60_000);
});
