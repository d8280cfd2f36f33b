/**
 * The orchestrator's side of each scenario: which load processes to fork, in which order to tell them
 * what, and where to read the server's CPU and RSS. Each scenario runs against a freshly started target
 * and returns flat numeric metrics (plus details kept in the JSON).
 */
import type { Redis } from 'ioredis';
import type { SubscribersReport, WriteResult } from '../load/pubsub.js';
import { benchDir, LoadProcess, sleep } from './children.js';
import { cpuMicros, diff, machineBusyMicros, monoMicros, redisCpuMicros, rssBytes, type Sample } from './proc.js';
import { concat, median, summarize } from './stats.js';
import { DEFAULT_TARGETS, type RunningTarget, TARGETS, type TargetName } from './targets.js';

export interface MetricDef {
  key: string;
  label: string;
  /** lower / higher is better; 'info' figures are shown without a verdict. */
  better: 'lower' | 'higher' | 'info';
  digits: number;
  /** Include the ratio to bare ws in the table. */
  ratio?: boolean;
}

export interface ScenarioResult {
  metrics: Record<string, number>;
  details: Record<string, unknown>;
}

export interface ScenarioOptions {
  quick: boolean;
  redis: Redis;
  log(message: string): void;
}

export interface Scenario {
  id: string;
  title: string;
  /** What the workload is, for the report. */
  workload(quick: boolean): string;
  metrics: MetricDef[];
  /** Targets run by default in this scenario besides DEFAULT_TARGETS. */
  extraTargets?: TargetName[];
  /** Targets that cannot take part in this scenario, even when --targets names them, and why. */
  skipTargets?: Partial<Record<TargetName, string>>;
  run(target: RunningTarget, options: ScenarioOptions): Promise<ScenarioResult>;
}

/**
 * The targets of one scenario, in TARGETS order: the ones asked for with --targets (given), else
 * DEFAULT_TARGETS and the scenario's extraTargets; minus those the scenario cannot run.
 */
export function scenarioTargets(scenario: Scenario, asked: TargetName[], given: boolean): { targets: TargetName[]; skipped: string[] } {
  const wanted = given ? asked : [...DEFAULT_TARGETS, ...(scenario.extraTargets ?? [])];
  const skipped: string[] = [];
  const targets = TARGETS.filter((t) => {
    if (!wanted.includes(t)) return false;
    const why = scenario.skipTargets?.[t];
    if (why) skipped.push(`${t} skipped in ${scenario.id}: ${why}`);
    return !why;
  });
  return { targets, skipped };
}

const loadFile = (name: string) => `${benchDir}load/${name}.ts`;

async function sample(target: RunningTarget, loads: LoadProcess[], redis: Redis | null): Promise<Sample> {
  return {
    at: performance.now(),
    monoUs: monoMicros(),
    serverCpuUs: cpuMicros(target.server.pid),
    serverRss: rssBytes(target.server.pid),
    loadCpuUs: loads.map((l) => l.cpuUs()),
    redisCpuUs: redis ? await redisCpuMicros(redis) : Number.NaN,
    machineBusyUs: machineBusyMicros(),
  };
}

/** Forks the load processes, runs `body`, and always stops them. */
async function withLoads<T>(specs: { file: string; label: string }[], body: (loads: LoadProcess[]) => Promise<T>): Promise<T> {
  const loads = specs.map((s) => new LoadProcess(loadFile(s.file), s.label));
  try {
    return await body(loads);
  } finally {
    await Promise.all(loads.map((l) => l.stop()));
  }
}

function split<T>(items: T[], parts: number): T[][] {
  const out: T[][] = Array.from({ length: parts }, () => []);
  items.forEach((item, i) => out[i % parts]!.push(item));
  return out;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

function mergeReports(reports: SubscribersReport[]) {
  return {
    subscribers: sum(reports.map((r) => r.subscribers)),
    deliveries: sum(reports.map((r) => r.deliveries)),
    expectedDeliveries: sum(reports.map((r) => r.expectedDeliveries)),
    lost: sum(reports.map((r) => r.lost)),
    duplicated: sum(reports.map((r) => r.duplicated)),
    outOfOrder: sum(reports.map((r) => r.outOfOrder)),
    unexpected: sum(reports.map((r) => r.unexpected)),
    errors: sum(reports.map((r) => r.errors)),
    latency: summarize(concat(reports.map((r) => r.latencies))),
  };
}

/** Load-generator CPU: the busiest process's share of a core over the window (100 = one core). */
const loadCpuMax = (pcts: number[]) => Math.max(...pcts);

// ---- fanout and throughput (subscribers + writers) -------------------------------------------------

interface PubSubPlan {
  file: 'fanout' | 'throughput';
  rooms: string[];
  subscribersPerRoom: number;
  subscriberProcesses: number;
  /** Per writer; 0 = closed loop. */
  ratePerSecond: number;
  durationMs: number;
}

async function runPubSub(target: RunningTarget, plan: PubSubPlan, options: ScenarioOptions) {
  const info = { kind: target.name, port: target.server.port };
  const specs = [
    { file: plan.file, label: `${plan.file}-writer` },
    ...Array.from({ length: plan.subscriberProcesses }, (_, i) => ({ file: plan.file, label: `${plan.file}-subs${i}` })),
  ];
  return withLoads(specs, async (loads) => {
    const [writer, ...subs] = loads as [LoadProcess, ...LoadProcess[]];
    const writerRooms = plan.rooms.map((room, i) => ({ room, userId: `writer${i}` }));
    const setupStart = performance.now();
    await writer.call('writers', { target: info, rooms: writerRooms }, 120_000);
    const assignments = plan.rooms.flatMap((room, r) =>
      Array.from({ length: plan.subscribersPerRoom }, (_, i) => ({ room, userId: `watcher${r}-${i}` })),
    );
    const shares = split(assignments, subs.length);
    await Promise.all(subs.map((s, i) => s.call('subscribe', { target: info, assignments: shares[i] }, 120_000)));
    // Warm-up doubles as the barrier: write until every subscriber has received an event.
    await writer.call('startWarm', { ratePerSecond: plan.ratePerSecond, maxMs: 60_000 });
    await sleep(options.quick ? 500 : 1500);
    const ready = await Promise.all(subs.map((s) => s.call<{ ready: number; total: number }>('waitFirst', { timeoutMs: 30_000 }, 40_000)));
    await writer.call('stopWarm', {}, 30_000);
    const notReady = sum(ready.map((r) => r.total - r.ready));
    if (notReady > 0) options.log(`  warning: ${notReady} subscribers saw no warm-up event`);
    await sleep(300);
    const setupMs = performance.now() - setupStart;

    await Promise.all(subs.map((s) => s.call('record')));
    const before = await sample(target, loads, options.redis);
    const write = await writer.call<WriteResult>('write', { durationMs: plan.durationMs, ratePerSecond: plan.ratePerSecond }, plan.durationMs + 60_000);
    const written = await sample(target, loads, options.redis);
    const drains = await Promise.all(subs.map((s) => s.call<{ drained: boolean; waitedMs: number }>('drain', { expected: write.ackedVersions, timeoutMs: 10_000 }, 20_000)));
    const after = await sample(target, loads, options.redis);
    const reports = await Promise.all(subs.map((s) => s.call<SubscribersReport>('report', { expected: write.ackedVersions }, 60_000)));
    await Promise.all(loads.map((l) => l.call('close', {}, 20_000)));

    const window = diff(before, after);
    const writeWindow = diff(before, written);
    const merged = mergeReports(reports);
    return { write, merged, window, writeWindow, drains, setupMs, notReady };
  });
}

function pubsubMetrics(r: Awaited<ReturnType<typeof runPubSub>>) {
  const ack = summarize(r.write.ackLatencies);
  return {
    ack,
    metrics: {
      ackedSelects: r.write.acked,
      selectErrors: r.write.errors,
      deliveries: r.merged.deliveries,
      latencyP50: r.merged.latency.p50,
      latencyP99: r.merged.latency.p99,
      latencyMax: r.merged.latency.max,
      cpuUsPerDelivery: r.window.serverCpuUs / r.merged.deliveries,
      cpuUsPerSelect: r.window.serverCpuUs / r.write.acked,
      serverCpuPct: r.writeWindow.serverCpuPct,
      lost: r.merged.lost,
      duplicated: r.merged.duplicated,
      outOfOrder: r.merged.outOfOrder,
      redisCpuUsPerSelect: r.window.redisCpuUs / r.write.acked,
      loadCpuPct: loadCpuMax(r.writeWindow.loadCpuPct),
      otherCpuPct: r.writeWindow.otherCpuPct,
      ackP50: ack.p50,
      ackP99: ack.p99,
    },
  };
}

function fanout(subscribers: number): Scenario {
  return {
    id: `fanout-${subscribers}`,
    title: `fanout, ${subscribers.toLocaleString('en-US')} subscribers`,
    workload: (quick) =>
      `one room, ${subscribers} graphql-ws/ws/Socket.IO subscribers (one connection each) over ${subscribers > 200 ? 2 : 1} load process(es), ` +
      `one participant writing 20 selects/s for ${quick ? 3 : 15} s`,
    metrics: [
      { key: 'latencyP50', label: 'delivery latency p50 (ms)', better: 'lower', digits: 2, ratio: true },
      { key: 'latencyP99', label: 'delivery latency p99 (ms)', better: 'lower', digits: 2, ratio: true },
      { key: 'latencyMax', label: 'delivery latency max (ms)', better: 'lower', digits: 2, ratio: true },
      { key: 'cpuUsPerDelivery', label: 'server CPU per delivery (µs)', better: 'lower', digits: 2, ratio: true },
      { key: 'serverCpuPct', label: 'server CPU (% of one core)', better: 'info', digits: 1 },
      { key: 'deliveries', label: 'deliveries (event × subscriber)', better: 'info', digits: 0 },
      { key: 'lost', label: 'lost', better: 'lower', digits: 0 },
      { key: 'duplicated', label: 'duplicated', better: 'lower', digits: 0 },
      { key: 'outOfOrder', label: 'out of order', better: 'lower', digits: 0 },
      { key: 'ackP50', label: 'select ack p50 (ms)', better: 'info', digits: 2 },
      { key: 'redisCpuUsPerSelect', label: 'Redis CPU per select (µs; under bare ws: Redis idle)', better: 'info', digits: 0 },
      { key: 'loadCpuPct', label: 'busiest load process (% of one core)', better: 'info', digits: 0 },
      { key: 'otherCpuPct', label: 'CPU used outside the benchmark (% of one core)', better: 'info', digits: 0 },
    ],
    async run(target, options) {
      const r = await runPubSub(
        target,
        {
          file: 'fanout',
          rooms: [`fanout-${subscribers}`],
          subscribersPerRoom: subscribers,
          subscriberProcesses: subscribers > 200 ? 2 : 1,
          ratePerSecond: 20,
          durationMs: options.quick ? 3000 : 15_000,
        },
        options,
      );
      const { metrics } = pubsubMetrics(r);
      return {
        metrics,
        details: {
          write: { sent: r.write.sent, acked: r.write.acked, errors: r.write.errors, firstError: r.write.firstError, elapsedMs: r.write.elapsedMs },
          subscribers: { ...r.merged },
          drains: r.drains,
          window: r.window,
          setupMs: r.setupMs,
          subscribersWithoutWarmupEvent: r.notReady,
        },
      };
    },
  };
}

const throughput: Scenario = {
  id: 'throughput',
  title: 'throughput, 200 rooms × 3 subscribers',
  workload: (quick) =>
    `200 rooms, 3 subscribers each (600 connections over 2 load processes), one closed-loop writer per room ` +
    `(200 connections, one load process) for ${quick ? 3 : 15} s`,
  extraTargets: ['socketio-plain'],
  metrics: [
    { key: 'selectsPerSecond', label: 'acknowledged selects/s', better: 'higher', digits: 0, ratio: true },
    { key: 'deliveredPerSecond', label: 'delivered events/s', better: 'higher', digits: 0, ratio: true },
    { key: 'ackP50', label: 'ack latency p50 (ms)', better: 'lower', digits: 2, ratio: true },
    { key: 'ackP99', label: 'ack latency p99 (ms)', better: 'lower', digits: 2, ratio: true },
    { key: 'cpuUsPerSelect', label: 'server CPU per select (µs)', better: 'lower', digits: 1, ratio: true },
    { key: 'serverCpuPct', label: 'server CPU (% of one core)', better: 'info', digits: 0 },
    { key: 'latencyP99', label: 'delivery latency p99 (ms)', better: 'info', digits: 2 },
    { key: 'lost', label: 'lost', better: 'lower', digits: 0 },
    { key: 'duplicated', label: 'duplicated', better: 'lower', digits: 0 },
    { key: 'outOfOrder', label: 'out of order', better: 'lower', digits: 0 },
    { key: 'selectErrors', label: 'select errors', better: 'lower', digits: 0 },
    { key: 'redisCpuUsPerSelect', label: 'Redis CPU per select (µs; under bare ws: Redis idle)', better: 'info', digits: 0 },
    { key: 'loadCpuPct', label: 'busiest load process (% of one core)', better: 'info', digits: 0 },
    { key: 'otherCpuPct', label: 'CPU used outside the benchmark (% of one core)', better: 'info', digits: 0 },
  ],
  async run(target, options) {
    const durationMs = options.quick ? 3000 : 15_000;
    const r = await runPubSub(
      target,
      {
        file: 'throughput',
        rooms: Array.from({ length: 200 }, (_, i) => `tp-${i}`),
        subscribersPerRoom: 3,
        subscriberProcesses: 2,
        ratePerSecond: 0,
        durationMs,
      },
      options,
    );
    const { metrics } = pubsubMetrics(r);
    const seconds = r.write.elapsedMs / 1000;
    return {
      metrics: { ...metrics, selectsPerSecond: r.write.acked / seconds, deliveredPerSecond: r.merged.deliveries / seconds },
      details: {
        write: { sent: r.write.sent, acked: r.write.acked, errors: r.write.errors, firstError: r.write.firstError, elapsedMs: r.write.elapsedMs },
        subscribers: { ...r.merged },
        drains: r.drains,
        window: r.window,
        setupMs: r.setupMs,
      },
    };
  },
};

// ---- latejoin ----------------------------------------------------------------------------------------

const latejoin: Scenario = {
  id: 'latejoin',
  title: 'latejoin, whole-room sync over HTTP',
  workload: (quick) =>
    `one room with 10 participants and 50 selections; 50 closed-loop HTTP clients (keep-alive, 2 load processes) fetch the whole room ` +
    `(conflictRoom query / GET /sync) for ${quick ? 2 : 10} s after a ${quick ? 0.5 : 2} s warm-up`,
  metrics: [
    { key: 'syncsPerSecond', label: 'syncs/s', better: 'higher', digits: 0, ratio: true },
    { key: 'p50', label: 'sync latency p50 (ms)', better: 'lower', digits: 2, ratio: true },
    { key: 'p99', label: 'sync latency p99 (ms)', better: 'lower', digits: 2, ratio: true },
    { key: 'cpuUsPerSync', label: 'server CPU per sync (µs)', better: 'lower', digits: 1, ratio: true },
    { key: 'serverCpuPct', label: 'server CPU (% of one core)', better: 'info', digits: 0 },
    { key: 'errors', label: 'errors', better: 'lower', digits: 0 },
    { key: 'redisCpuUsPerSync', label: 'Redis CPU per sync (µs; under bare ws: Redis idle)', better: 'info', digits: 0 },
    { key: 'loadCpuPct', label: 'busiest load process (% of one core)', better: 'info', digits: 0 },
    { key: 'otherCpuPct', label: 'CPU used outside the benchmark (% of one core)', better: 'info', digits: 0 },
  ],
  async run(target, options) {
    const info = { kind: target.name, port: target.server.port };
    const room = 'latejoin-room';
    type Run = { count: number; errors: number; firstError?: string; check?: unknown; elapsedMs: number; latencies: Float64Array };
    // 50 clients over 2 load processes (25 each), so the client side is less likely to be the limit.
    return withLoads(
      [
        { file: 'latejoin', label: 'latejoin0' },
        { file: 'latejoin', label: 'latejoin1' },
      ],
      async (loads) => {
        const setup = await loads[0]!.call<{ version: number }>('setup', { target: info, room, participants: 10, selections: 50 }, 60_000);
        const runAll = (durationMs: number) =>
          Promise.all(loads.map((l) => l.call<Run>('run', { target: info, room, clients: 25, durationMs }, durationMs + 60_000)));
        await runAll(options.quick ? 500 : 2000);
        const before = await sample(target, loads, options.redis);
        const runs = await runAll(options.quick ? 2000 : 10_000);
        const after = await sample(target, loads, options.redis);
        const window = diff(before, after);
        const count = sum(runs.map((r) => r.count));
        const lat = summarize(concat(runs.map((r) => r.latencies)));
        const elapsedMs = Math.max(...runs.map((r) => r.elapsedMs));
        return {
          metrics: {
            syncsPerSecond: count / (elapsedMs / 1000),
            p50: lat.p50,
            p99: lat.p99,
            cpuUsPerSync: window.serverCpuUs / count,
            serverCpuPct: window.serverCpuPct,
            errors: sum(runs.map((r) => r.errors)),
            redisCpuUsPerSync: window.redisCpuUs / count,
            loadCpuPct: loadCpuMax(window.loadCpuPct),
            otherCpuPct: window.otherCpuPct,
          },
          details: { setup, count, firstError: runs.find((r) => r.firstError)?.firstError, check: runs[0]?.check, latency: lat, window },
        };
      },
    );
  },
};

// ---- resume ------------------------------------------------------------------------------------------

const resume: Scenario = {
  id: 'resume',
  title: 'resume after 1,000 missed events',
  workload: (quick) =>
    `a subscriber saw version v0 and left; the writer made 1,000 more selections; a new connection subscribes with ` +
    `afterVersion v0 and is timed (connect included) until it holds the last one; ${quick ? 3 : 10} resumes one after the other`,
  skipTargets: { 'socketio-plain': 'the plain Socket.IO server keeps no log to resume from' },
  metrics: [
    { key: 'p50', label: 'time to caught-up p50 (ms)', better: 'lower', digits: 1, ratio: true },
    { key: 'max', label: 'time to caught-up max (ms)', better: 'lower', digits: 1, ratio: true },
    { key: 'firstEventP50', label: 'time to first replayed event p50 (ms)', better: 'lower', digits: 1, ratio: true },
    { key: 'cpuUsPerResume', label: 'server CPU per resume (µs)', better: 'lower', digits: 0, ratio: true },
    { key: 'incomplete', label: 'resumes not caught up within 10 s', better: 'lower', digits: 0 },
    { key: 'gaps', label: 'gaps', better: 'lower', digits: 0 },
    { key: 'duplicated', label: 'duplicated', better: 'lower', digits: 0 },
    { key: 'snapshots', label: 'RoomSnapshot instead of events', better: 'info', digits: 0 },
  ],
  async run(target, options) {
    const info = { kind: target.name, port: target.server.port };
    return withLoads([{ file: 'resume', label: 'resume' }], async ([load]) => {
      const setup = await load!.call<{ v0: number; last: number }>('setup', { target: info, room: 'resume-room', missed: 1000 }, 120_000);
      await sleep(300);
      const iterations = options.quick ? 3 : 10;
      const before = await sample(target, [load!], options.redis);
      const r = await load!.call<{
        times: number[];
        firstEventMs: number[];
        connectMs: number[];
        incomplete: number;
        duplicated: number;
        gaps: number;
        snapshots: number;
        received: number;
        expectedPerResume: number;
      }>('resume', { iterations, timeoutMs: 10_000 }, iterations * 12_000 + 10_000);
      const after = await sample(target, [load!], options.redis);
      const window = diff(before, after);
      const t = summarize(r.times);
      return {
        metrics: {
          p50: t.p50,
          max: t.max,
          firstEventP50: median(r.firstEventMs),
          cpuUsPerResume: window.serverCpuUs / iterations,
          incomplete: r.incomplete,
          gaps: r.gaps,
          duplicated: r.duplicated,
          snapshots: r.snapshots,
        },
        details: { setup, ...r, window },
      };
    });
  },
};

// ---- idle memory -------------------------------------------------------------------------------------

async function settledRss(pid: number): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < 5; i++) {
    values.push(rssBytes(pid));
    await sleep(300);
  }
  return median(values);
}

const idleMemory: Scenario = {
  id: 'idle-memory',
  title: 'idle memory, 2,000 subscriptions over 100 rooms',
  workload: () =>
    `100 rooms (each with a participant who wrote once), then 2,000 idle subscriptions, one connection each, 20 per room, ` +
    `from 2 load processes; each confirmed live by one event; server RSS read after settling, minus the RSS before`,
  metrics: [
    { key: 'rssKbPerSubscription', label: 'server RSS per subscription (KiB)', better: 'lower', digits: 1, ratio: true },
    { key: 'rssBeforeMb', label: 'server RSS before (MiB)', better: 'info', digits: 0 },
    { key: 'rssAfterMb', label: 'server RSS with 2,000 subscriptions (MiB)', better: 'info', digits: 0 },
    { key: 'idleCpuPct', label: 'server CPU while idle (% of one core)', better: 'info', digits: 2 },
    { key: 'connectMs', label: 'time to open 2,000 subscriptions (ms)', better: 'info', digits: 0 },
  ],
  async run(target, options) {
    const info = { kind: target.name, port: target.server.port };
    const rooms = Array.from({ length: 100 }, (_, i) => `idle-${i}`);
    const total = 2000;
    return withLoads(
      [
        { file: 'idle', label: 'idle0' },
        { file: 'idle', label: 'idle1' },
      ],
      async (loads) => {
        const [first] = loads as [LoadProcess, LoadProcess];
        await first.call('warm', { target: info, rooms, subscribers: 10 }, 60_000);
        await first.call('writers', { target: info, rooms: rooms.map((room, i) => ({ room, userId: `writer${i}` })) }, 60_000);
        await sleep(1000);
        const rssBefore = await settledRss(target.server.pid);
        const assignments = Array.from({ length: total }, (_, i) => ({ room: rooms[i % rooms.length]!, userId: `idle${i}` }));
        const shares = split(assignments, loads.length);
        const t0 = performance.now();
        const opened = await Promise.all(loads.map((l, i) => l.call<{ subscribers: number }>('subscribe', { target: info, assignments: shares[i] }, 120_000)));
        const connectMs = performance.now() - t0;
        await first.call('startWarm', { ratePerSecond: 2, maxMs: 60_000 });
        const ready = await Promise.all(loads.map((l) => l.call<{ ready: number; total: number }>('waitFirst', { timeoutMs: 30_000 }, 40_000)));
        await first.call('stopWarm', {}, 30_000);
                await sleep(1500);
        const before = await sample(target, [], null);
        const rssAfter = await settledRss(target.server.pid);
        const after = await sample(target, [], null);
        const window = diff(before, after);
        await Promise.all(loads.map((l) => l.call('close', {}, 20_000)));
        const subscribed = sum(opened.map((o) => o.subscribers));
        return {
          metrics: {
            rssKbPerSubscription: (rssAfter - rssBefore) / 1024 / subscribed,
            rssBeforeMb: rssBefore / 1048576,
            rssAfterMb: rssAfter / 1048576,
            idleCpuPct: window.serverCpuPct,
            connectMs,
          },
          details: { subscribed, ready, rssBefore, rssAfter },
        };
      },
    );
  },
};

// ---- many small rooms at human pace -------------------------------------------------------------------

const redisUsedMemory = async (redis: Redis) => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? Number.NaN);

/**
 * The product's real load (issue 13): thousands of rooms of two participants, who each select every
 * ~10 s and follow the room on their own connection, and one watcher. Whole rooms live on one load
 * process, so every delivery is timed on one clock.
 */
function smallRooms(rooms: number): Scenario {
  const processes = 3;
  return {
    id: `rooms-${rooms}`,
    title: `${rooms.toLocaleString('en-US')} small rooms at human pace`,
    workload: (quick) =>
      `${quick ? rooms / 10 : rooms} rooms; in each, 2 participants (join, subscribe and select on their own connection, one select every ` +
      `~10 s each, jittered 5–15 s) and 1 watcher: ${quick ? (3 * rooms) / 10 : 3 * rooms} connections over ${processes} load processes, whole rooms per process; ` +
      `idle CPU measured over ${quick ? 3 : 25} s with everyone connected, then ${quick ? 10 : 30} s of writes`,
    extraTargets: ['socketio-plain'],
    metrics: [
      { key: 'cpuUsPerDelivery', label: 'server CPU per delivered event (µs)', better: 'lower', digits: 1, ratio: true },
      { key: 'cpuUsPerDeliveryNetIdle', label: 'server CPU per delivered event, idle CPU subtracted (µs)', better: 'lower', digits: 1, ratio: true },
      { key: 'cpuUsPerSelect', label: 'server CPU per acked select (µs)', better: 'lower', digits: 0, ratio: true },
      { key: 'cpuUsPerSelectNetIdle', label: 'server CPU per acked select, idle CPU subtracted (µs)', better: 'lower', digits: 0, ratio: true },
      { key: 'latencyP50', label: 'delivery latency p50 (ms)', better: 'lower', digits: 2, ratio: true },
      { key: 'latencyP99', label: 'delivery latency p99 (ms)', better: 'lower', digits: 2, ratio: true },
      { key: 'latencyMax', label: 'delivery latency max (ms)', better: 'lower', digits: 1, ratio: true },
      { key: 'rssKbPerRoom', label: 'server RSS per room (KB)', better: 'lower', digits: 1, ratio: true },
      { key: 'redisKbPerRoom', label: 'Redis memory per room (KB)', better: 'lower', digits: 2 },
      { key: 'idleCpuPct', label: 'server CPU idle with everyone connected (% of one core)', better: 'lower', digits: 2, ratio: true },
      { key: 'openMs', label: 'time to open every connection and subscription (ms)', better: 'lower', digits: 0, ratio: true },
      { key: 'serverCpuPct', label: 'server CPU while writing (% of one core)', better: 'info', digits: 0 },
      { key: 'ackedSelects', label: 'acknowledged selects', better: 'info', digits: 0 },
      { key: 'deliveries', label: 'delivered events', better: 'info', digits: 0 },
      { key: 'lost', label: 'lost', better: 'lower', digits: 0 },
      { key: 'duplicated', label: 'duplicated', better: 'lower', digits: 0 },
      { key: 'outOfOrder', label: 'out of order', better: 'lower', digits: 0 },
      { key: 'selectErrors', label: 'select errors', better: 'lower', digits: 0 },
      { key: 'loadCpuPct', label: 'busiest load process (% of one core)', better: 'info', digits: 0 },
      { key: 'otherCpuPct', label: 'CPU used outside the benchmark (% of one core)', better: 'info', digits: 0 },
    ],
    async run(target, options) {
      const count = options.quick ? rooms / 10 : rooms;
      // 25 s: one whole keep-alive interval of both servers (WS_KEEPALIVE_MS and Socket.IO's pingInterval
      // are 25 s), so every socket's ping falls in the window once, whenever it was opened.
      const idleMs = options.quick ? 3000 : 25_000;
      const durationMs = options.quick ? 10_000 : 30_000;
      const info = { kind: target.name, port: target.server.port };
      const names = Array.from({ length: count }, (_, i) => `room-${i}`);
      const shares = split(names, processes);
      const specs = shares.map((_, i) => ({ file: 'fanout', label: `rooms${i}` }));
      return withLoads(specs, async (loads) => {
        const redis = target.name === 'ws' ? null : options.redis;
        const rssBefore = await settledRss(target.server.pid);
        const redisBefore = redis ? await redisUsedMemory(redis) : Number.NaN;
        const t0 = performance.now();
        await Promise.all(
          loads.map(async (load, i) => {
            const mine = shares[i]!;
            await load.call('writers', { target: info, rooms: mine.flatMap((room) => [0, 1].map((p) => ({ room, userId: `${room}-p${p}` }))), subscribe: true }, 300_000);
            await load.call('subscribe', { target: info, assignments: mine.map((room) => ({ room, userId: `${room}-watcher` })) }, 300_000);
          }),
        );
        const openMs = performance.now() - t0;
        // Every room gets one event, and every subscriber must have seen it: the subscriptions are live.
        const touched = await Promise.all(loads.map((l) => l.call<{ acked: number; errors: number }>('touch', {}, 300_000)));
        const ready = await Promise.all(loads.map((l) => l.call<{ ready: number; total: number }>('waitFirst', { timeoutMs: 60_000 }, 70_000)));
        const notReady = sum(ready.map((r) => r.total - r.ready));
        if (notReady > 0) options.log(`  warning: ${notReady} subscribers saw no event after opening`);
        await sleep(2000);
        const idleBefore = await sample(target, loads, redis);
        await sleep(idleMs);
        const idleAfter = await sample(target, loads, redis);
        const idle = diff(idleBefore, idleAfter);
        const rssOpen = await settledRss(target.server.pid);

        await Promise.all(loads.map((l) => l.call('record')));
        const before = await sample(target, loads, redis);
        const writes = await Promise.all(
          loads.map((l) => l.call<WriteResult>('write', { durationMs, ratePerSecond: 0, meanIntervalMs: 10_000 }, durationMs + 60_000)),
        );
        const written = await sample(target, loads, redis);
        const expected: Record<string, number[]> = Object.assign({}, ...writes.map((w) => w.ackedVersions));
        const drains = await Promise.all(loads.map((l) => l.call<{ drained: boolean }>('drain', { expected, timeoutMs: 10_000 }, 20_000)));
        const after = await sample(target, loads, redis);
        const reports = await Promise.all(loads.map((l) => l.call<SubscribersReport>('report', { expected }, 60_000)));
        const redisAfter = redis ? await redisUsedMemory(redis) : Number.NaN;
        await Promise.all(loads.map((l) => l.call('close', {}, 60_000)));

        const window = diff(before, after);
        const writeWindow = diff(before, written);
        const merged = mergeReports(reports);
        const acked = sum(writes.map((w) => w.acked));
        // The idle cost (pings, timers) over the write window, at the rate measured with nobody writing.
        const idleUs = (idle.serverCpuUs / idle.wallMs) * window.wallMs;
        return {
          metrics: {
            cpuUsPerDelivery: window.serverCpuUs / merged.deliveries,
            cpuUsPerDeliveryNetIdle: (window.serverCpuUs - idleUs) / merged.deliveries,
            cpuUsPerSelect: window.serverCpuUs / acked,
            cpuUsPerSelectNetIdle: (window.serverCpuUs - idleUs) / acked,
            latencyP50: merged.latency.p50,
            latencyP99: merged.latency.p99,
            latencyMax: merged.latency.max,
            rssKbPerRoom: (rssOpen - rssBefore) / 1000 / count,
            redisKbPerRoom: (redisAfter - redisBefore) / 1000 / count,
            idleCpuPct: idle.serverCpuPct,
            openMs,
            serverCpuPct: writeWindow.serverCpuPct,
            ackedSelects: acked,
            deliveries: merged.deliveries,
            lost: merged.lost,
            duplicated: merged.duplicated,
            outOfOrder: merged.outOfOrder,
            selectErrors: sum(writes.map((w) => w.errors)),
            loadCpuPct: loadCpuMax(writeWindow.loadCpuPct),
            otherCpuPct: writeWindow.otherCpuPct,
          },
          details: {
            rooms: count,
            touched,
            notReady,
            drains,
            firstError: writes.find((w) => w.firstError)?.firstError,
            rssBefore,
            rssOpen,
            redisBefore,
            redisAfter,
            idle,
            window,
            subscribers: { ...merged, latency: merged.latency },
          },
        };
      });
    },
  };
}

export const SCENARIOS: Scenario[] = [fanout(100), fanout(1000), throughput, latejoin, resume, idleMemory, smallRooms(5000)];

/** `--scenario fanout` picks both fanouts; exact ids pick one. */
export function pickScenarios(names: string[]): Scenario[] {
  if (names.length === 0) return SCENARIOS;
  const picked = SCENARIOS.filter((s) => names.some((n) => s.id === n || s.id.startsWith(`${n}-`) || (n === 'idle' && s.id === 'idle-memory')));
  if (picked.length === 0) throw new Error(`no scenario matches ${names.join(', ')}; known: ${SCENARIOS.map((s) => s.id).join(', ')}`);
  return picked;
}
