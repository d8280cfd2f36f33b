/**
 * `npm run soak`: a few minutes of real traffic through real faults, on loopback only.
 *
 * Starts its own redis-server (AOF on, fsync every second) on a free port and two instances of the
 * production build (`node dist/main.js`, built first) on it. Rooms (default 200) each get two
 * participants who write over HTTP, and two subscribers over graphql-ws (one a participant, so presence
 * changes too; one a watcher), spread over both instances. Mid-run: instance A is restarted (SIGTERM,
 * then started again), Redis is killed (SIGKILL) and restarted on the same AOF directory, and instance B
 * is restarted. Then the writers stop, and every subscriber's room is compared with the server's
 * `conflictRoom`. Report: bench/results/soak.md and stdout. Exits 1 if any gap, duplicate or divergent
 * room was seen. Every process it starts, it stops (also on error and on SIGINT).
 *
 *   npm run soak -- [--duration 180] [--rooms 200] [--rate 60] [--out bench/results/soak.md]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { print } from 'graphql';
import type { Room } from '../src/sdk/apply-event.js';
import { ConflictRoomDocument } from '../src/sdk/generated/graphql.js';
import { benchDir, freePort, repoRoot, sleep } from './lib/children.js';
import { stopAllOnSignals, stopAllTracked } from './lib/tracked.js';
import { emptyStats, Follower, FollowerConnection } from './soak/followers.js';
import { SoakInstance, SoakRedis } from './soak/processes.js';
import { Writers } from './soak/writers.js';
import { renderReport, type SoakReport } from './soak/report.js';

interface Options {
  durationS: number;
  rooms: number;
  rate: number;
  out: string;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { durationS: 180, rooms: 200, rate: 60, out: join(benchDir, 'results', 'soak.md') };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = inline ?? argv[++i] ?? '';
    if (flag === '--duration') options.durationS = Number(value);
    else if (flag === '--rooms') options.rooms = Number(value);
    else if (flag === '--rate') options.rate = Number(value);
    else if (flag === '--out') options.out = resolve(value);
    else throw new Error(`usage: npm run soak -- [--duration seconds] [--rooms N] [--rate writes/s] [--out file.md] (got ${flag})`);
  }
  if (!(options.durationS >= 20 && options.durationS <= 1800)) throw new Error('--duration must be 20 to 1800 seconds');
  if (!(Number.isInteger(options.rooms) && options.rooms >= 2 && options.rooms <= 5000)) throw new Error('--rooms must be 2 to 5000');
  if (!(options.rate > 0 && options.rate <= 2000)) throw new Error('--rate must be above 0 and at most 2000 writes/s');
  return options;
}

const log = (m: string) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${m}`);
const ROOM = print(ConflictRoomDocument);
/** Rooms per subscriber connection (the server's default limit is 50 subscriptions per connection). */
const GROUP = 20;

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  log('npm run build (dist/main.js)');
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: repoRoot, stdio: 'inherit' });
  const redis = await SoakRedis.start();
  const env = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'soak:' };
  const script = join(repoRoot, 'dist', 'main.js');
  const instances = [new SoakInstance('soak-a', await freePort(), script, env), new SoakInstance('soak-b', await freePort(), script, env)];
  const connections: FollowerConnection[] = [];
  const faults: SoakReport['faults'] = [];
  const at = () => (Date.now() - startedAt.getTime()) / 1000;
  try {
    await Promise.all(instances.map((i) => i.start()));
    log(`redis-server ${redis.url} (AOF in ${redis.dir}); instances on ports ${instances.map((i) => i.port).join(', ')}`);
    const rooms = Array.from({ length: options.rooms }, (_, i) => `soak-${String(i).padStart(4, '0')}`);
    const writers = new Writers(instances.map((i) => i.httpUrl));
    await writers.joinAll(rooms);

    const stats = emptyStats();
    const wsUrls = instances.map((i) => i.wsUrl);
    const followers: Follower[] = [];
    for (let g = 0; g * GROUP < rooms.length; g++) {
      const group = rooms.slice(g * GROUP, (g + 1) * GROUP);
      // One subscriber per room is a participant (its subscriptions make PresenceChanged events as
      // connections drop and come back); one user per group of rooms, so one connection each.
      const participant = `follower-${g}`;
      for (const room of group) await writers.call(participant, 'mutation ($tx: ID!) { joinConflictRoom(transactionId: $tx) { version } }', { tx: room });
      for (const [user, first] of [[participant, g % 2], [`watcher-${g}`, (g + 1) % 2]] as const) {
        const mine = group.map((room) => new Follower(room, stats));
        followers.push(...mine);
        connections.push(new FollowerConnection(user, mine, wsUrls, first, stats));
      }
    }
    for (const c of connections) c.start();
    log(`${rooms.length} rooms, ${followers.length} subscriptions on ${connections.length} connections; writing ${options.rate}/s for ${options.durationS} s`);

    const stop = new AbortController();
    const writing = writers.run(rooms, options.rate, stop.signal);
    const d = options.durationS * 1000;
    const restart = async (instance: SoakInstance) => {
      const t = at();
      const exitCode = await instance.stop();
      const readyMs = await instance.start();
      faults.push({ atS: t, what: `restart ${instance.name}: SIGTERM, exit code ${exitCode}, started again, ready in ${readyMs} ms`, ok: exitCode === 0 });
      log(faults.at(-1)!.what);
    };
    const blip = async () => {
      const t = at();
      await redis.kill();
      await sleep(2000);
      const upMs = await redis.launch();
      faults.push({ atS: t, what: `Redis SIGKILL, 2 s down, restarted on the same AOF (answering ${upMs} ms after launch)`, ok: true });
      log(faults.at(-1)!.what);
    };
    const begin = Date.now();
    const waitUntil = (fraction: number) => sleep(Math.max(0, begin + d * fraction - Date.now()));
    await waitUntil(0.25);
    await restart(instances[0]!);
    await waitUntil(0.5);
    await blip();
    await waitUntil(0.75);
    await restart(instances[1]!);
    await waitUntil(1);
    stop.abort();
    await writing;
    log(`writers stopped: ${writers.stats.acknowledged} acknowledged of ${writers.stats.attempted}; waiting for subscribers to catch up`);

    const checker = new Writers(instances.map((i) => i.httpUrl));
    const serverRoom = async (tx: string) => (await checker.call('soak-checker', ROOM, { transactionId: tx }))?.['conflictRoom'] as Room | undefined;
    let settled = false;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(1000)) {
      const versions = await Promise.all(rooms.map(async (tx) => (await serverRoom(tx))?.version));
      const byRoom = new Map(rooms.map((tx, i) => [tx, versions[i]]));
      if (followers.every((f) => f.room?.version === byRoom.get(f.transactionId))) {
        settled = true;
        break;
      }
    }
    const divergent: SoakReport['divergent'] = [];
    for (const tx of rooms) {
      const server = await serverRoom(tx);
      for (const f of followers.filter((x) => x.transactionId === tx)) {
        if (!isDeepStrictEqual(f.room, server)) divergent.push({ room: tx, subscriberVersion: f.room?.version ?? null, serverVersion: server?.version ?? null });
      }
    }
    const report: SoakReport = {
      startedAt,
      durationS: at(),
      options,
      machine: `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}`,
      commit: execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim(),
      subscriptions: followers.length,
      connections: connections.length,
      writes: writers.stats,
      follow: stats,
      faults,
      settled,
      divergent,
      divergentRooms: new Set(divergent.map((x) => x.room)).size,
    };
    const md = renderReport(report);
    mkdirSync(dirname(options.out), { recursive: true });
    writeFileSync(options.out, md);
    console.log(`\n${md}`);
    const failed = stats.gaps > 0 || stats.duplicates > 0 || report.divergentRooms > 0;
    log(failed ? 'FAILED: gaps, duplicates or divergent rooms' : 'passed: no gap, no duplicate, no divergent room');
    return failed ? 1 : 0;
  } finally {
    await Promise.all(connections.map((c) => c.stop()));
    await Promise.all(instances.map((i) => i.stop()));
    await redis.dispose();
    await stopAllTracked();
  }
}

stopAllOnSignals();
main().then(
  (code) => process.exit(code),
  async (error: unknown) => {
    console.error(error);
    await stopAllTracked();
    process.exit(1);
  },
);
