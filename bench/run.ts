/**
 * The benchmark orchestrator (`npm run bench`). See BENCHMARKS.md.
 *
 *   npm run bench                                 every scenario, 2 runs, targets alternating
 *   npm run bench -- --scenario fanout --runs 3   one scenario family (fanout = fanout-100 + fanout-1000)
 *   npm run bench -- --quick                      a few seconds per scenario: a smoke check, not a measurement
 *   npm run bench -- --profile                    conflict-rooms under --cpu-prof during the 1,000-subscriber fanout
 *   npm run bench -- --profile --scenario throughput --targets service,socketio   other scenarios and targets
 *   npm run bench -- --targets ws,service         a subset of the targets
 *   npm run bench -- --scenario throughput --targets service,socketio-plain   the plain Socket.IO peer
 *
 * Targets: ws, service, socketio run in every scenario; socketio-plain (plain Socket.IO + Redis, HSET +
 * emit) by default only in throughput and rooms-5000. --targets runs exactly those named, in every
 * scenario that can take them (socketio-plain cannot resume).
 *   npm run bench -- --scenario idle-start        idle RSS and time to ready, npm start vs the production build
 *
 * Env equivalents: BENCH_SCENARIOS=a,b  BENCH_RUNS=N  BENCH_QUICK=1  BENCH_TARGETS=a,b  BENCH_REDIS_URL.
 * Writes bench/results/latest.json and latest.md (--profile: profile-<scenario>.json and .md, and the
 * .cpuprofile files in bench/results/profiles/, git-ignored).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { benchDir, repoRoot, sleep, stopAll } from './lib/children.js';
import { checkTargets, markdown, type Meta, type RunRecord, type ScenarioRecord, summarizeScenario } from './lib/report.js';
import { pickScenarios, type Scenario, SCENARIOS, scenarioTargets } from './lib/scenarios.js';
import { DEFAULT_TARGETS, deletePrefix, LABELS, REDIS_URL, type RunningTarget, startTarget, type StartOptions, TARGETS, type TargetName } from './lib/targets.js';
import { runIdleStart } from './idle-start.js';
import { stopAllTracked } from './lib/tracked.js';
import { profileMarkdown, summarizeProfile } from './profile.js';

interface Options {
  scenarios: string[];
  runs: number;
  quick: boolean;
  profile: boolean;
  /** --targets or BENCH_TARGETS; else DEFAULT_TARGETS (and each scenario's extraTargets). */
  targets: TargetName[];
  /** --targets or BENCH_TARGETS was given: exactly those run (--profile then profiles those, else conflict-rooms only). */
  targetsGiven: boolean;
}

function parseArgs(argv: string[]): Options {
  const list = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const options: Options = {
    scenarios: list(process.env.BENCH_SCENARIOS),
    runs: Number(process.env.BENCH_RUNS ?? 2),
    quick: process.env.BENCH_QUICK === '1' || process.env.BENCH_QUICK === 'true',
    profile: false,
    targets: (list(process.env.BENCH_TARGETS) as TargetName[]).length ? (list(process.env.BENCH_TARGETS) as TargetName[]) : DEFAULT_TARGETS,
    targetsGiven: list(process.env.BENCH_TARGETS).length > 0,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--scenario':
      case '--scenarios':
        options.scenarios.push(...list(value()));
        break;
      case '--runs':
        options.runs = Number(value());
        break;
      case '--quick':
        options.quick = true;
        break;
      case '--profile':
        options.profile = true;
        break;
      case '--targets':
        options.targets = list(value()) as TargetName[];
        options.targetsGiven = true;
        break;
      case '--help':
      case '-h':
        console.log(`usage: npm run bench -- [--scenario ${SCENARIOS.map((s) => s.id).join('|')}|fanout|idle-start] [--runs N] [--quick] [--profile] [--targets ${TARGETS.join(',')}]`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${arg}`);
    }
  }
  if (!Number.isInteger(options.runs) || options.runs < 1 || options.runs > 10) throw new Error('--runs must be 1 to 10');
  for (const t of options.targets) if (!TARGETS.includes(t)) throw new Error(`unknown target ${t}; known: ${TARGETS.join(', ')}`);
  return options;
}

const log = (message: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

const running = new Set<RunningTarget>();

async function cleanup(): Promise<void> {
  await Promise.all([stopAll(), stopAllTracked()]);
  for (const target of running) if (target.prefix) await deletePrefix(target.prefix).catch(() => undefined);
  running.clear();
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${signal}: stopping every process this run started`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** conflict-rooms may be mid-change by others: a failed start is retried after a pause, and reported. */
async function start(name: TargetName, startOptions: StartOptions, notes: string[]): Promise<RunningTarget> {
  for (let attempt = 1; ; attempt++) {
    try {
      const target = await startTarget(name, startOptions);
      running.add(target);
      return target;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (attempt >= 3 || interrupted) throw error;
      const note = `${LABELS[name]} failed to start (attempt ${attempt}), retrying in 60 s: ${message.split('\n').slice(0, 6).join(' / ')}`;
      notes.push(note);
      log(note);
      await sleep(60_000);
    }
  }
}

async function stop(target: RunningTarget): Promise<void> {
  await target.stop();
  running.delete(target);
}

function timeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} took more than ${ms / 1000} s`)), ms);
    promise.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e: unknown) => (clearTimeout(timer), reject(e)),
    );
  });
}

/** A hash of every file under src/ (the service as it ran, committed or not: others may be editing it). */
function srcHash(): string {
  const hash = createHash('sha1');
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else hash.update(path).update(readFileSync(path));
    }
  };
  try {
    walk(join(repoRoot, 'src'));
  } catch {
    return 'unknown';
  }
  return hash.digest('hex').slice(0, 12);
}

function gitInfo(): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'package.json'], { cwd: repoRoot, encoding: 'utf8' }).trim() !== '';
    return { commit, dirty };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}

async function runScenario(scenario: Scenario, target: RunningTarget, options: Options, redis: Redis): Promise<{ metrics: Record<string, number>; details: Record<string, unknown> }> {
  return timeout(scenario.run(target, { quick: options.quick, redis, log }), options.quick ? 90_000 : 150_000, `${scenario.id} against ${target.name}`);
}

async function benchmark(options: Options, redis: Redis) {
  const started = Date.now();
  const { commit, dirty } = gitInfo();
  const notes: string[] = [];
  const srcAtStart = srcHash();
  const scenarios = pickScenarios(options.scenarios);
  const records: ScenarioRecord[] = [];
  const resultsDir = join(benchDir, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const meta = (): Meta & { notes: string[]; redis: string; srcHash: string } => ({
    startedAt: new Date(started).toISOString(),
    durationS: (Date.now() - started) / 1000,
    commit,
    dirty,
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown CPU',
    loadavg: loadavg(),
    quick: options.quick,
    runs: options.runs,
    notes,
    srcHash: srcAtStart,
    redis: REDIS_URL.replace(/\/\/[^@]*@/, '//'),
  });
  const write = () => {
    const srcNow = srcHash();
    const changedIndex = notes.findIndex((n) => n.startsWith('src/ changed during the run'));
    if (changedIndex >= 0) notes.splice(changedIndex, 1);
    if (srcNow !== srcAtStart) {
      const scenarioNow = records.at(-1)?.id ?? 'the start';
      notes.push(
        `src/ changed during the run (hash ${srcAtStart} at the start, ${srcNow} after ${scenarioNow}): someone was editing the service, ` +
          `so not every run of conflict-rooms measured the same code`,
      );
    }
    const checks = checkTargets(records);
    const m = meta();
    writeFileSync(join(resultsDir, 'latest.json'), JSON.stringify({ meta: m, scenarios: records, targets: checks }, null, 2));
    const notesMd = notes.length ? `\nNotes:\n${notes.map((n) => `- ${n}`).join('\n')}\n` : '';
    writeFileSync(join(resultsDir, 'latest.md'), markdown(m, records, checks) + notesMd);
  };

  log(
    `${scenarios.map((s) => s.id).join(', ')}; ${options.runs} run(s); targets ${options.targets.join(', ')}` +
      `${options.targetsGiven ? '' : ' (and socketio-plain where a scenario adds it)'}${options.quick ? '; quick' : ''}`,
  );
  for (const scenario of scenarios) {
    const record: ScenarioRecord = { id: scenario.id, title: scenario.title, workload: scenario.workload(options.quick), metrics: scenario.metrics, runs: [], summary: {} };
    records.push(record);
    const { targets, skipped } = scenarioTargets(scenario, options.targets, options.targetsGiven);
    for (const note of skipped) (log(`  ${note}`), notes.push(note));
    for (let run = 1; run <= options.runs; run++) {
      // Alternate the order of the targets from run to run, so drift on a shared machine spreads evenly.
      const order = run % 2 === 1 ? targets : [...targets].reverse();
      for (const name of order) {
        if (interrupted) return;
        const t0 = Date.now();
        let target: RunningTarget | undefined;
        const entry: RunRecord = { run, target: name, ok: false, wallMs: 0, metrics: {} };
        try {
          target = await start(name, {}, notes);
          const result = await runScenario(scenario, target, options, redis);
          entry.ok = true;
          entry.metrics = result.metrics;
          entry.details = result.details;
        } catch (error) {
          entry.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
          log(`  ${scenario.id} run ${run} ${name}: FAILED ${entry.error.split('\n')[0]}`);
          if (target) entry.error += `\nserver output:\n${target.server.output()}`;
          await stopAll();
        } finally {
          if (target) await stop(target).catch((e: unknown) => log(`  stopping ${name}: ${String(e)}`));
        }
        entry.wallMs = Date.now() - t0;
        record.runs.push(entry);
        if (entry.ok) {
          const shown = scenario.metrics
            .filter((m) => m.ratio)
            .slice(0, 4)
            .map((m) => `${m.key}=${Number(entry.metrics[m.key]).toFixed(m.digits)}`)
            .join(' ');
          log(`  ${scenario.id} run ${run} ${name}: ${(entry.wallMs / 1000).toFixed(1)} s; ${shown}`);
        }
      }
    }
    summarizeScenario(record);
    write();
  }
  write();
  log(`wrote bench/results/latest.json and latest.md in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

async function profile(options: Options, redis: Redis) {
  const profilesDir = join(benchDir, 'results', 'profiles');
  mkdirSync(profilesDir, { recursive: true });
  const scenarios = options.scenarios.length ? pickScenarios(options.scenarios) : SCENARIOS.filter((s) => s.id === 'fanout-1000');
  const { commit, dirty } = gitInfo();
  const notes: string[] = [];
  for (const scenario of scenarios) {
    const { targets, skipped } = scenarioTargets(scenario, options.targetsGiven ? options.targets : ['service'], true);
    for (const note of skipped) (log(`  ${note}`), notes.push(note));
    const startedAt = Date.now();
    const out: Record<string, unknown> = {};
    const sections: string[] = [];
    for (const name of targets) {
      const target = await start(name, { nodeFlags: ['--cpu-prof', '--cpu-prof-dir', profilesDir], stopSignal: 'SIGINT' }, notes);
      let result;
      try {
        result = await runScenario(scenario, target, options, redis);
      } finally {
        await stop(target);
      }
      // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the main thread (1 is tsx's loader).
      const file = readdirSync(profilesDir)
        .filter((f) => f.endsWith('.cpuprofile') && f.split('.')[3] === String(target.server.pid) && f.split('.')[4] === '0')
        .map((f) => join(profilesDir, f))[0];
      if (!file) throw new Error(`no .cpuprofile written by ${name} in ${profilesDir}`);
      const window = (result.details as { window?: { fromMonoUs: number; toMonoUs: number } }).window;
      const summary = summarizeProfile(file, 15, window ? { fromUs: window.fromMonoUs, toUs: window.toMonoUs } : undefined);
      out[name] = { metrics: result.metrics, summary };
      const shown = scenario.metrics
        .filter((m) => m.ratio)
        .map((m) => `${m.label} ${Number(result.metrics[m.key]).toFixed(m.digits)}`)
        .join(', ');
      sections.push(
        profileMarkdown(
          summary,
          `#### ${scenario.id}: ${LABELS[name]}\n\n\`node --cpu-prof\` of the server during one ${scenario.id} run, counting only the samples ` +
            `of the measured phase (not start-up, setup or warm-up), on commit \`${commit.slice(0, 12)}\`` +
            `${dirty ? ` with uncommitted changes to src/ (src/ hash \`${srcHash()}\`)` : ''}, ${new Date(startedAt).toISOString()}` +
            `${options.quick ? ' (quick mode)' : ''}. That run, under the profiler (which adds overhead): ${shown}.`,
        ),
      );
    }
    writeFileSync(join(benchDir, 'results', `profile-${scenario.id}.json`), JSON.stringify({ commit, dirty, startedAt: new Date(startedAt).toISOString(), ...out }, null, 2));
    writeFileSync(join(benchDir, 'results', `profile-${scenario.id}.md`), sections.join('\n'));
    console.log(sections.join('\n'));
    log(`wrote bench/results/profile-${scenario.id}.json and .md`);
  }
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  // idle-start (bench/idle-start.ts) measures conflict-rooms alone, each way of starting it: run first,
  // on an idle machine, and written to bench/results/idle-start.md.
  const idleStart = !options.profile && (options.scenarios.length === 0 || options.scenarios.includes('idle-start'));
  const others = options.scenarios.filter((s) => s !== 'idle-start');
  if (idleStart) await runIdleStart({ runs: options.quick ? 1 : 3, settleS: options.quick ? 3 : 10, log });
  if (idleStart && options.scenarios.length > 0 && others.length === 0) return;
  options.scenarios = others;
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 2 });
  if (options.targets.some((t) => t !== 'ws')) await redis.connect();
  try {
    if (options.profile) await profile(options, redis);
    else await benchmark(options, redis);
  } finally {
    await cleanup();
    redis.disconnect();
  }
}

main().then(
  () => process.exit(0),
  async (error: unknown) => {
    console.error(error);
    await cleanup();
    process.exit(1);
  },
);
