/**
 * RSS and heap per connection of the service under the rooms-N benchmark's shape (bench/lib/scenarios.ts
 * smallRooms): per room, 2 participants who each connect, join and subscribe on their own graphql-ws
 * connection, then 1 watcher (own connection, one subscription); then one select per room (the
 * benchmark's `touch`), and every subscriber must see it. Rooms are opened in steps; after each step the
 * server's RSS is read (settled, no GC: what the benchmark reads), then after full GCs, with the V8 heap
 * numbers; optionally a heap snapshot is written for bench/rss/heap-diff.ts.
 *
 *   node --import tsx bench/rss/probe.ts [--steps 500,500] [--warm 20] [--snapshots DIR] [--selects 1|2]
 *
 * Uses the same client adapter and documents as the benchmark (bench/load/clients.ts). Small on
 * purpose (the machine is shared): 1,000 rooms is 3,000 connections.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, repoRoot, sleep } from '../lib/children.js';
import { rssBytes } from '../lib/proc.js';
import { type Connection, connect, type TargetInfo } from '../load/clients.js';
import { pool } from '../load/ipc.js';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '500,500' },
    warm: { type: 'string', default: '20' },
    snapshots: { type: 'string' },
    selects: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '50' },
  },
});
const steps = values.steps!.split(',').map(Number);
const warm = Number(values.warm);
const selectsPerRoom = Number(values.selects);
const concurrency = Number(values.concurrency);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rss:${randomBytes(4).toString('hex')}:`;

let server: ChildProcess | undefined;
const connections: Connection[] = [];

async function startServer(port: number): Promise<ChildProcess> {
  const child = fork(join(repoRoot, 'src/main.ts'), [], {
    cwd: repoRoot,
    execArgv: ['--expose-gc', '--import', 'tsx', '--import', './bench/rss/agent.mjs'],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      RATE_LIMIT_PER_SECOND: '0',
      LOG_LEVEL: 'warn',
      ...(process.env.PROBE_SERVER_ENV ? JSON.parse(process.env.PROBE_SERVER_ENV) : {}),
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  for (let i = 0; i < 200; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`, { headers: { accept: 'application/json', 'x-user-id': 'probe' } });
      if (res.ok) return child;
    } catch {
      // not yet
    }
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    await sleep(100);
  }
  throw new Error('server did not start');
}

let nextId = 0;
function ask<T>(child: ChildProcess, message: Record<string, unknown>): Promise<T> {
  const id = ++nextId;
  return new Promise((resolve) => {
    const onMessage = (reply: { id?: number }) => {
      if (reply?.id !== id) return;
      child.off('message', onMessage);
      resolve(reply as T);
    };
    child.on('message', onMessage);
    child.send({ ...message, id });
  });
}

async function settledRss(pid: number): Promise<number> {
  const v: number[] = [];
  for (let i = 0; i < 5; i++) {
    v.push(rssBytes(pid));
    await sleep(300);
  }
  return v.sort((a, b) => a - b)[2]!;
}

interface Memory {
  rss: number;
  rssGc: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** V8 committed memory (heap spaces' physical size). */
  physical: number;
  malloced: number;
}

async function measure(child: ChildProcess, label: string, snapshots?: string): Promise<Memory> {
  const rss = await settledRss(child.pid!);
  const reply = await ask<{ memory: NodeJS.MemoryUsage; heap: { total_physical_size: number; malloced_memory: number } }>(child, { probe: 'mem', gc: true });
  await sleep(500);
  const rssGc = await settledRss(child.pid!);
  if (snapshots) {
    const file = resolve(snapshots, `${label}.heapsnapshot`);
    await ask(child, { probe: 'snapshot', path: file });
  }
  const m = reply.memory;
  return { rss, rssGc, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, physical: reply.heap.total_physical_size, malloced: reply.heap.malloced_memory };
}

async function openRooms(target: TargetInfo, names: string[]): Promise<void> {
  const seen = new Map<string, number>();
  const firstWriter = new Map<string, Connection[]>();
  const subscribe = async (conn: Connection, room: string) => {
    seen.set(room, seen.get(room) ?? 0);
    await conn.subscribe(room, undefined, () => seen.set(room, (seen.get(room) ?? 0) + 1), (error) => console.error('subscription error', error));
  };
  // As the benchmark's `writers` with subscribe: true, then `subscribe` for the watchers.
  await pool(
    names.flatMap((room) => [0, 1].map((p) => ({ room, userId: `${room}-p${p}` }))),
    concurrency,
    async ({ room, userId }) => {
      const conn = await connect(target, { userId, userName: userId });
      connections.push(conn);
      await conn.join(room, userId);
      firstWriter.set(room, [...(firstWriter.get(room) ?? []), conn]);
      await subscribe(conn, room);
    },
  );
  await pool(names, concurrency, async (room) => {
    const conn = await connect(target, { userId: `${room}-watcher`, userName: `${room}-watcher` });
    connections.push(conn);
    await subscribe(conn, room);
  });
  // As `touch`: one select per room (or per participant with --selects 2), every subscriber sees it.
  await pool(names, concurrency, async (room) => {
    const writers = firstWriter.get(room)!;
    for (let i = 0; i < selectsPerRoom; i++) await writers[i % writers.length]!.select(room, `f${i}`, `v${i}`);
  });
  const deadline = Date.now() + 30_000;
  const want = 3 * selectsPerRoom;
  while (Date.now() < deadline && names.some((r) => (seen.get(r) ?? 0) < want)) await sleep(50);
  const short = names.filter((r) => (seen.get(r) ?? 0) < want).length;
  if (short > 0) console.error(`warning: ${short} rooms short of events`);
}

async function deletePrefix(): Promise<number> {
  const redis = new Redis(REDIS_URL);
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

const kb = (bytes: number) => (bytes / 1024).toFixed(1);

async function main(): Promise<void> {
  if (values.snapshots) mkdirSync(values.snapshots, { recursive: true });
  const port = await freePort();
  server = await startServer(port);
  const target: TargetInfo = { kind: 'service', port };
  let opened = 0;
  const open = async (count: number, label: string) => {
    const names = Array.from({ length: count }, (_, i) => `${label}-${opened + i}`);
    opened += count;
    const t0 = Date.now();
    await openRooms(target, names);
    return Date.now() - t0;
  };
  await open(warm, 'warm');
  await sleep(1000);
  const rows: { label: string; rooms: number; m: Memory }[] = [{ label: 'base', rooms: 0, m: await measure(server, 'base', values.snapshots) }];
  let total = 0;
  for (const [i, count] of steps.entries()) {
    const ms = await open(count, `s${i}`);
    total += count;
    await sleep(2000);
    rows.push({ label: `step${i}`, rooms: total, m: await measure(server, `step${i}-${total}`, values.snapshots) });
    console.error(`opened ${count} rooms in ${ms} ms`);
  }
  console.log('| after | rooms | RSS (MiB) | RSS after GC | heap used | heap total | V8 physical | external | arrayBuffers |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const mib = (b: number) => (b / 1048576).toFixed(1);
  for (const { label, rooms, m } of rows) {
    console.log(`| ${label} | ${rooms} | ${mib(m.rss)} | ${mib(m.rssGc)} | ${mib(m.heapUsed)} | ${mib(m.heapTotal)} | ${mib(m.physical)} | ${mib(m.external)} | ${mib(m.arrayBuffers)} |`);
  }
  console.log('\nPer connection (3 per room), KiB, from each step to the next:');
  console.log('| step | RSS | RSS after GC | heap used | heap total | external |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (let i = 1; i < rows.length; i++) {
    const a = rows[i - 1]!.m;
    const b = rows[i]!.m;
    const conns = 3 * (rows[i]!.rooms - rows[i - 1]!.rooms);
    const per = (k: keyof Memory) => kb((b[k] - a[k]) / conns);
    console.log(`| ${rows[i - 1]!.rooms}→${rows[i]!.rooms} | ${per('rss')} | ${per('rssGc')} | ${per('heapUsed')} | ${per('heapTotal')} | ${per('external')} |`);
  }
  const first = rows[0]!.m;
  const last = rows.at(-1)!.m;
  const conns = 3 * total;
  console.log(`\nOverall base→${total} rooms: RSS ${kb((last.rss - first.rss) / conns)} KiB/conn (${((last.rss - first.rss) / 1000 / total).toFixed(1)} KB/room, the benchmark's unit), ` +
    `after GC ${kb((last.rssGc - first.rssGc) / conns)} KiB/conn, heap used ${kb((last.heapUsed - first.heapUsed) / conns)} KiB/conn`);
}

async function cleanup(): Promise<void> {
  for (const conn of connections.splice(0)) conn.close();
  await sleep(500);
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => {
      const t = setTimeout(() => {
        server?.kill('SIGKILL');
        r(undefined);
      }, 10_000);
      server!.once('exit', () => {
        clearTimeout(t);
        r(undefined);
      });
    });
  }
  console.error(`deleted ${await deletePrefix()} Redis keys under ${prefix}`);
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => cleanup().then(() => process.exit()));
