/**
 * Idle memory and time to ready of one instance on the embedded store, for each way of starting it
 * (`npm run bench:idle`, or `npm run bench -- --scenario idle-start`; part of a full `npm run bench`):
 *
 *   npm start             node --import tsx src/main.ts (TypeScript compiled at start)
 *   start:prod            node dist/main.js, the esbuild bundle of `npm run build`
 *   start:prod, jwt       the same bundle as the container runs it (NODE_ENV=production, AUTH_MODE=jwt)
 *   external build        a bundle of src/ only, importing node_modules (why the build bundles them)
 *
 * Ready: from spawn to the first 200 of GET /graphql?query={__typename} (polled every 10 ms). Idle RSS:
 * VmRSS after the process has answered that one request and sat idle for --settle seconds (default 10).
 * Then SIGTERM, and the time to exit. Results: bench/results/idle-start.md and stdout.
 *
 *   npm run bench:idle -- [--runs 3] [--settle 10]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchDir, freePort, repoRoot, sleep } from './lib/children.js';
import { spawnTracked, stopAllOnSignals, stopAllTracked, stopTracked } from './lib/tracked.js';

interface Variant {
  id: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  /** The one the targets apply to. */
  production?: boolean;
}

export interface IdleStartRun {
  variant: string;
  readyMs: number;
  idleRssMb: number;
  peakRssMb: number;
  exitMs: number;
  exitCode: number | null;
}

const externalDir = join(benchDir, '.tmp', 'external');
// A random secret: the configuration refuses placeholder-like ones.
const jwtEnv = { NODE_ENV: 'production', AUTH_MODE: 'jwt', JWT_SECRET: randomBytes(32).toString('base64url') };

const VARIANTS: Variant[] = [
  { id: 'npm start (tsx)', command: 'node --import tsx src/main.ts', args: ['--import', 'tsx', 'src/main.ts'], env: {} },
  { id: 'start:prod (bundle)', command: 'node dist/main.js', args: ['dist/main.js'], env: {}, production: true },
  { id: 'start:prod, NODE_ENV=production', command: 'node dist/main.js', args: ['dist/main.js'], env: jwtEnv, production: true },
  { id: 'external build', command: 'node bench/.tmp/external/main.js', args: [join(externalDir, 'main.js')], env: {} },
];

function status(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(text)?.[1] ?? Number.NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

async function answers(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/graphql?query=%7B__typename%7D`, {
      headers: { 'x-graphql-yoga-csrf': '1' },
      signal: AbortSignal.timeout(1000),
    });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

async function measure(variant: Variant, settleS: number): Promise<IdleStartRun> {
  const port = await freePort();
  const started = performance.now();
  const proc = spawnTracked(process.execPath, variant.args, { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...variant.env });
  try {
    while (!(await answers(port))) {
      if (proc.child.exitCode !== null) throw new Error(`${variant.id} exited (${proc.child.exitCode}) before answering:\n${proc.output()}`);
      if (performance.now() - started > 30_000) throw new Error(`${variant.id} did not answer within 30 s:\n${proc.output()}`);
      await sleep(10);
    }
    const readyMs = performance.now() - started;
    await sleep(settleS * 1000);
    const { rss, hwm } = status(proc.child.pid!);
    const stopping = performance.now();
    const exitCode = await stopTracked(proc, 'SIGTERM', 20_000);
    return { variant: variant.id, readyMs, idleRssMb: rss, peakRssMb: hwm, exitMs: performance.now() - stopping, exitCode };
  } finally {
    await stopTracked(proc, 'SIGKILL', 5000);
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function markdown(runs: IdleStartRun[], options: { runs: number; settleS: number }, startedAt: Date, startLoad: number[]): string {
  const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
  const rows = VARIANTS.map((v) => {
    const mine = runs.filter((r) => r.variant === v.id);
    const cell = (pick: (r: IdleStartRun) => number, digits = 0) =>
      `${median(mine.map(pick)).toFixed(digits)} (${mine.map((r) => pick(r).toFixed(digits)).join(', ')})`;
    return `| ${v.id} | \`${v.command}\` | ${cell((r) => r.readyMs)} | ${cell((r) => r.idleRssMb, 1)} | ${cell((r) => r.peakRssMb, 1)} | ${cell((r) => r.exitMs)} | ${mine.map((r) => r.exitCode).join(', ')} |`;
  });
  const production = runs.filter((r) => VARIANTS.find((v) => v.id === r.variant)?.production);
  const worstRss = Math.max(...production.map((r) => r.idleRssMb));
  const worstReady = Math.max(...production.map((r) => r.readyMs));
  const medianRss = median(production.map((r) => r.idleRssMb));
  const medianReady = median(production.map((r) => r.readyMs));
  const met = (ok: boolean) => (ok ? 'met' : 'missed');
  return [
    '# Idle memory and time to ready',
    '',
    `\`npm run bench:idle\` on commit \`${commit}\`, ${startedAt.toISOString()}; Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ` +
      `load average (1, 5, 15 min) at the start ${startLoad.map((l) => l.toFixed(2)).join(' ')}, at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}. Embedded store, ${options.runs} runs per variant ` +
      `(alternating order), idle ${options.settleS} s after the first answer. Median (every run).`,
    '',
    '| variant | command | ready ms | idle RSS MB | peak RSS MB | exit after SIGTERM ms | exit codes |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    'Ready: from spawn to the first 200 of `GET /graphql?query={__typename}` (with the CSRF header), which also ' +
      'loads graphql-jit (on first use). GraphiQL, on in development, loads its renderer when first requested, so ' +
      'none of these paid for it. Peak RSS: VmHWM, the most the process held at any point.',
    '',
    `Targets for the production start (both of its rows, ${production.length} runs): idle RSS ≤ 100 MB: median ` +
      `${medianRss.toFixed(1)} MB, **${met(medianRss <= 100)}**; worst run ${worstRss.toFixed(1)} MB, **${met(worstRss <= 100)}**. ` +
      `Ready ≤ 1 s: median ${medianReady.toFixed(0)} ms, **${met(medianReady <= 1000)}**; worst run ${worstReady.toFixed(0)} ms, ` +
      `**${met(worstReady <= 1000)}**. The machine's 2 cores are shared: the load average above says how busy they were.`,
    '',
  ].join('\n');
}

/** Builds both bundles, measures every variant `runs` times, writes bench/results/idle-start.md. */
export async function runIdleStart(options: { runs: number; settleS: number; log: (m: string) => void }): Promise<IdleStartRun[]> {
  const startedAt = new Date();
  const startLoad = loadavg();
  options.log('idle-start: npm run build, and a build with node_modules external for comparison');
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: repoRoot, stdio: 'inherit' });
  execFileSync(process.execPath, ['scripts/build.mjs', '--outdir', externalDir, '--external'], { cwd: repoRoot, stdio: 'inherit' });
  const runs: IdleStartRun[] = [];
  for (let run = 1; run <= options.runs; run++) {
    for (const variant of run % 2 ? VARIANTS : [...VARIANTS].reverse()) {
      const result = await measure(variant, options.settleS);
      runs.push(result);
      options.log(`  ${variant.id} run ${run}: ready ${result.readyMs.toFixed(0)} ms, idle RSS ${result.idleRssMb.toFixed(1)} MB, exit ${result.exitMs.toFixed(0)} ms (${result.exitCode})`);
    }
  }
  const md = markdown(runs, options, startedAt, startLoad);
  mkdirSync(join(benchDir, 'results'), { recursive: true });
  writeFileSync(join(benchDir, 'results', 'idle-start.md'), md);
  console.log(`\n${md}`);
  return runs;
}

function parseArgs(argv: string[]): { runs: number; settleS: number } {
  const options = { runs: 3, settleS: 10 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = Number(inline ?? argv[++i]);
    if (flag === '--runs' && Number.isInteger(value) && value >= 1) options.runs = value;
    else if (flag === '--settle' && value >= 0) options.settleS = value;
    else throw new Error(`usage: npm run bench:idle -- [--runs N] [--settle seconds] (got ${argv.join(' ')})`);
  }
  return options;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  stopAllOnSignals();
  const log = (m: string) => console.log(`[idle-start ${new Date().toISOString().slice(11, 19)}] ${m}`);
  runIdleStart({ ...parseArgs(process.argv.slice(2)), log }).then(
    () => process.exit(0),
    async (error: unknown) => {
      console.error(error);
      await stopAllTracked();
      process.exit(1);
    },
  );
}
