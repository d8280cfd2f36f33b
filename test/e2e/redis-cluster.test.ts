/**
 * Two real instance processes on a real Redis Cluster (3 masters, 3 replicas) through
 * REDIS_CLUSTER_NODES: rooms on every shard shared across instances over graphql-ws with resume, and
 * a master SIGKILLed under a stream of writes until its replica takes over.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mutate, Subscription, wsClient } from '../utils/clients.js';
import { type InstanceProcess, startInstanceProcess } from '../utils/instance-process.js';
import { EVENTS, type EventsResult, JOIN, ROOM_QUERY, type RoomData, SELECT } from '../utils/operations.js';
import { type RedisClusterProcess, startRedisCluster } from '../utils/redis-cluster.js';
import { expectAcknowledgedWritesKept, RoomFollower, startWriteStream } from '../utils/write-stream.js';

const alice = { userId: 'alice', userName: 'Alice' };
const bob = { userId: 'bob', userName: 'Bob' };
const STORE_TIMEOUT_MS = 1500;

let cluster: RedisClusterProcess;
let a: InstanceProcess;
let b: InstanceProcess;
beforeAll(async () => {
  cluster = await startRedisCluster({ replicas: 1 });
  const env = { REDIS_CLUSTER_NODES: cluster.nodes.join(','), REDIS_KEY_PREFIX: `cre2e:${randomUUID().slice(0, 8)}:`, STORE_TIMEOUT_MS: String(STORE_TIMEOUT_MS) };
  [a, b] = await Promise.all([startInstanceProcess(env), startInstanceProcess(env)]);
}, 90_000);
afterAll(async () => {
  await Promise.all([a?.kill(), b?.kill()]);
  await cluster?.dispose();
});

/** Transaction ids whose rooms live on three different masters (the prefix does not matter: the hash tag does). */
async function roomsOnEveryMaster(name: string): Promise<Array<{ tx: string; master: number }>> {
  const byMaster = new Map<number, string>();
  for (let i = 0; byMaster.size < 3; i++) {
    const master = await cluster.masterOf(`{${name}-${i}}`);
    if (!byMaster.has(master)) byMaster.set(master, `${name}-${i}`);
  }
  return [...byMaster].map(([master, tx]) => ({ tx, master }));
}

describe('two instances on a Redis Cluster', () => {
  it('rooms on every shard: selects on either instance reach subscribers on both, in one order, and a resume has no gap', async () => {
    const clients = [wsClient(a.wsUrl, { userId: 'watcher-a' }), wsClient(b.wsUrl, { userId: 'watcher-b' })];
    try {
      for (const { tx } of await roomsOnEveryMaster('shard')) {
        await mutate(a.url, alice, JOIN, { tx });
        await mutate(b.url, bob, JOIN, { tx });
        const subs = clients.map((client) => new Subscription<EventsResult>(client, EVENTS, { tx, after: 2 }));
        for (let i = 0; i < 6; i++) await mutate(i % 2 ? b.url : a.url, i % 2 ? bob : alice, SELECT, { tx, field: 'price', value: `p${i}` });
        for (const sub of subs) {
          const events = (await sub.take(6)).map((r) => r.conflictRoomEvents);
          expect(events.map((e) => [e.__typename, e.version, e.selection?.value])).toEqual(
            Array.from({ length: 6 }, (_, i) => ['FieldSelected', i + 3, `p${i}`]),
          );
          sub.unsubscribe();
        }
        // A client resuming from version 5 on the other instance gets 6, 7, 8 and then live events.
        const resumed = new Subscription<EventsResult>(clients[1]!, EVENTS, { tx, after: 5 });
        expect((await resumed.take(3)).map((r) => r.conflictRoomEvents.version)).toEqual([6, 7, 8]);
        await mutate(a.url, alice, SELECT, { tx, field: 'condition', value: 'new' });
        expect((await resumed.take(1))[0]!.conflictRoomEvents).toMatchObject({ __typename: 'FieldSelected', version: 9, selection: { field: 'condition', value: 'new' } });
        resumed.unsubscribe();
        const rooms = await Promise.all([a, b].map(async (s) => (await mutate<{ conflictRoom: RoomData }>(s.url, alice, ROOM_QUERY, { tx })).conflictRoom));
        expect(rooms[0]).toEqual(rooms[1]);
        expect(rooms[0]!.version).toBe(9);
      }
    } finally {
      await Promise.all(clients.map((client) => client.dispose()));
    }
  }, 60_000);

  it("a master killed under writes: refused with STORE_UNAVAILABLE until its replica takes over, then no acknowledged write lost and no gap", async () => {
    const [killed, other] = await roomsOnEveryMaster('failover');
    for (const { tx } of [killed!, other!]) await mutate(a.url, alice, JOIN, { tx });
    const client = wsClient(b.wsUrl, { userId: 'watcher' });
    const follower = new RoomFollower(client, killed!.tx);
    // Writes go to both instances in turn; a second stream writes a room of another shard.
    const stream = startWriteStream([a.url, b.url], alice, killed!.tx);
    const bystander = startWriteStream([a.url, b.url], alice, other!.tx);
    try {
      await stream.acknowledged(20);
      const killedAt = Date.now();
      await cluster.kill(killed!.master);
      const promoted = await cluster.waitForFailover(`{${killed!.tx}}`, killed!.master);
      const promotedAt = Date.now();
      await stream.acknowledged(20);
      const [outcomes, others] = [await stream.stop(), await bystander.stop()];

      const refused = outcomes.filter((o) => o.version === null);
      expect(refused.length).toBeGreaterThan(0);
      expect(new Set(refused.map((o) => o.code))).toEqual(new Set(['STORE_UNAVAILABLE']));
      for (const o of [...refused, ...others.filter((x) => x.version === null)]) expect(o.doneAt - o.sentAt).toBeLessThan(STORE_TIMEOUT_MS + 500);
      const back = outcomes.find((o) => o.version !== null && o.sentAt > refused.at(-1)!.sentAt)!;
      const othersAfterKill = others.filter((o) => o.sentAt >= killedAt);
      console.info(
        `[measure] cluster master :${killed!.master} SIGKILLed, replica :${promoted} promoted ${promotedAt - killedAt} ms later (seen by polling); ` +
          `first refusal ${refused[0]!.doneAt - killedAt} ms after the kill; refusals took at most ${Math.max(...refused.map((o) => o.doneAt - o.sentAt))} ms; ` +
          `first acknowledged write again ${back.doneAt - killedAt} ms after the kill; ${refused.length} refused, ${outcomes.length - refused.length} acknowledged; ` +
          `room on another shard: ${othersAfterKill.filter((o) => o.version === null).length} of ${othersAfterKill.length} writes after the kill refused`,
      );

      await expectAcknowledgedWritesKept(b.url, alice, killed!.tx, outcomes);
      await expectAcknowledgedWritesKept(a.url, alice, other!.tx, others);
      const room = (await mutate<{ conflictRoom: RoomData }>(a.url, alice, ROOM_QUERY, { tx: killed!.tx })).conflictRoom;
      await follower.reach(room.version);
      expect(follower.versions).toEqual(Array.from({ length: room.version }, (_, i) => i + 1));
      console.info(`[measure] the follower resubscribed ${follower.resumes} time(s)`);
    } finally {
      await Promise.all([stream.stop(), bystander.stop()]);
      follower.close();
      await client.dispose();
    }
  }, 90_000);
});
