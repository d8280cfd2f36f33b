/**
 * A rolling restart under load: two real instance processes (A, B) on one Redis, SDK room clients in
 * three rooms writing and following across both. A is stopped with SIGTERM and started again on the
 * same port, then B, while the writes go on. Each client's graphql-ws client is given both URLs and
 * takes the next one on every (re)connect, as a client behind a load balancer would reach whichever
 * instance answers. At the end every acknowledged write is in the room's history and the room holds
 * each writer's last value, and every client's local room equals the server's `conflictRoom`.
 */
import { createClient } from 'graphql-ws';
import { describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { createRoomClient, execute, type Room, type RoomClient, type RoomHandle } from '../../src/sdk/index.js';
import { ConflictRoomDocument } from '../../src/sdk/generated/graphql.js';
import { eventually, mutate } from '../utils/clients.js';
import { type InstanceProcess, startInstanceProcess } from '../utils/instance-process.js';
import { freePort } from '../utils/redis-server.js';
import { deletePrefix, testPrefix } from '../utils/server.js';
import { cleanupsAfterEach } from '../utils/cleanups.js';

const cleanups = cleanupsAfterEach();

const HISTORY = `query History($tx: ID!, $after: Int) {
  conflictRoomHistory(transactionId: $tx, afterVersion: $after, first: 100) {
    hasMore events { __typename version ... on FieldSelected { selection { field value } } }
  }
}`;

interface HistoryData {
  conflictRoomHistory: { hasMore: boolean; events: Array<{ __typename: string; version: number; selection?: { field: string; value: string } }> };
}

/** Every FieldSelected of the room, as "field=value". */
async function selectedInHistory(url: string, tx: string): Promise<Set<string>> {
  const seen = new Set<string>();
  let after = 0;
  for (;;) {
    const page = (await mutate<HistoryData>(url, { userId: 'auditor' }, HISTORY, { tx, after })).conflictRoomHistory;
    for (const e of page.events) if (e.selection) seen.add(`${e.selection.field}=${e.selection.value}`);
    if (!page.hasMore || page.events.length === 0) return seen;
    after = page.events[page.events.length - 1]!.version;
  }
}

interface Participant {
  userId: string;
  tx: string;
  writer: boolean;
  rooms: RoomClient;
  handle: RoomHandle;
  acked: string[];
  failed: string[];
  offline: number;
}

describe('rolling restart', () => {
  it('SIGTERM A, start A, SIGTERM B, start B under writes: no acknowledged write lost, every client equal to the server', async () => {
    const redisUrl = inject('redisUrl');
    const prefix = testPrefix('rolling');
    cleanups.push(() => deletePrefix(redisUrl, prefix));
    const ports = [await freePort(), await freePort()] as const;
    const envFor = (port: number) => ({ REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, PORT: String(port) });
    const instances: InstanceProcess[] = [await startInstanceProcess(envFor(ports[0])), await startInstanceProcess(envFor(ports[1]))];
    cleanups.push(() => Promise.all(instances.map((i) => i.kill())));
    const wsUrls = ports.map((port) => `ws://127.0.0.1:${port}/graphql`);
    const httpUrl = (i: number) => `http://127.0.0.1:${ports[i]!}/graphql`;

    const participants: Participant[] = [];
    const rooms = ['roll-1', 'roll-2', 'roll-3'];
    let n = 0;
    for (const tx of rooms) {
      for (const role of ['w1', 'w2', 'watcher'] as const) {
        const userId = `${tx}-${role}`;
        let next = n++ % 2;
        const client = createClient({
          url: () => wsUrls[next++ % 2]!,
          webSocketImpl: WebSocket,
          connectionParams: { userId, userName: userId },
          lazy: false,
          retryAttempts: Number.POSITIVE_INFINITY,
          shouldRetry: () => true,
          retryWait: () => new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100)),
          onNonLazyError: () => undefined,
        });
        const roomClient = createRoomClient({ client });
        cleanups.push(async () => (await roomClient.dispose(), await client.dispose()));
        const writer = role !== 'watcher';
        const handle = writer ? await roomClient.joinRoom(tx, { userName: userId }) : await roomClient.watchRoom(tx);
        const p: Participant = { userId, tx, writer, rooms: roomClient, handle, acked: [], failed: [], offline: 0 };
        handle.onStatus((status) => void (status === 'offline' && p.offline++));
        participants.push(p);
      }
    }
    const writers = participants.filter((p) => p.writer);

    let writing = true;
    const loops = writers.map(async (p) => {
      for (let i = 1; writing; i++) {
        const value = `${p.userId}#${i}`;
        try {
          await p.handle.select(`f_${p.userId.replace(/-/g, '_')}`, value);
          p.acked.push(value);
        } catch {
          p.failed.push(value);
        }
        await new Promise((resolve) => setTimeout(resolve, 40 + Math.random() * 40));
      }
    });
    /** Waits until every writer has `count` more acknowledged writes than now. */
    const progress = async (count: number, what: string) => {
      const marks = writers.map((p) => p.acked.length + count);
      await eventually(() => writers.every((p, i) => p.acked.length >= marks[i]!), 20_000, what);
    };

    await progress(5, 'writes before the restarts');
    const timings: string[] = [];
    for (const i of [0, 1]) {
      const began = Date.now();
      const code = await instances[i]!.terminate();
      const exitMs = Date.now() - began;
      expect(code).toBe(0);
      instances[i] = await startInstanceProcess(envFor(ports[i]!));
      timings.push(`${i === 0 ? 'A' : 'B'}: exit ${exitMs} ms, back ${Date.now() - began} ms`);
      await progress(5, `writes after restarting ${i === 0 ? 'A' : 'B'}`);
    }
    writing = false;
    await Promise.all(loops);

    for (const tx of rooms) {
      const inHistory = await selectedInHistory(httpUrl(0), tx);
      const roomWriters = writers.filter((p) => p.tx === tx);
      for (const p of roomWriters) {
        const field = `f_${p.userId.replace(/-/g, '_')}`;
        const missing = p.acked.filter((value) => !inHistory.has(`${field}=${value}`));
        expect(missing).toEqual([]);
      }
    }

    // Every client (writers and watchers, on either instance) converges on the server's room.
    const probe = createClient({ url: wsUrls[0]!, webSocketImpl: WebSocket, connectionParams: { userId: 'auditor' }, retryAttempts: 0, lazy: true });
    cleanups.push(async () => probe.dispose());
    const serverRoom = async (tx: string): Promise<Room> => (await execute(probe, ConflictRoomDocument, { transactionId: tx })).conflictRoom;
    for (const tx of rooms) {
      const followers = participants.filter((p) => p.tx === tx);
      let server = await serverRoom(tx);
      await eventually(
        async () => {
          server = await serverRoom(tx);
          return followers.every((p) => JSON.stringify(p.handle.state) === JSON.stringify(server));
        },
        10_000,
        `every client of ${tx} equal to the server's room`,
      );
      for (const p of followers) expect(p.handle.state).toEqual(server);
      // Each writer's field holds its last acknowledged value (nothing unacknowledged came after it).
      for (const p of followers.filter((f) => f.writer)) {
        const field = `f_${p.userId.replace(/-/g, '_')}`;
        const last = p.failed.length === 0 ? p.acked[p.acked.length - 1] : undefined;
        if (last !== undefined) expect(server.selections.find((s) => s.field === field)?.value).toBe(last);
      }
      expect(server.participants.map((x) => [x.userId, x.online])).toEqual(followers.filter((f) => f.writer).map((f) => [f.userId, true]));
    }
    // Both restarts reached every client: each went offline at least once, and no write failed.
    expect(participants.map((p) => [p.userId, p.offline >= 1])).toEqual(participants.map((p) => [p.userId, true]));
    expect(writers.flatMap((p) => p.failed)).toEqual([]);
    const total = writers.reduce((sum, p) => sum + p.acked.length, 0);
    console.log(`rolling restart: ${total} acknowledged writes by ${writers.length} writers in ${rooms.length} rooms; ${timings.join('; ')}`);
  }, 90_000);
});
