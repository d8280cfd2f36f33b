/** Reads a process's CPU time and RSS from /proc (Linux only), and Redis's own CPU from INFO. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  clkTck = 100;
}
export const CLK_TCK = clkTck;

/** utime + stime of the whole process (all its threads), in microseconds; NaN once it is gone. */
export function cpuMicros(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: split after its closing parenthesis.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state), so field 14 (utime) is rest[11] and field 15 (stime) rest[12].
    const ticks = Number(rest[11]) + Number(rest[12]);
    return (ticks * 1e6) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** VmRSS in bytes; NaN once the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return match ? Number(match[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Redis's used_cpu_user + used_cpu_sys in microseconds (the whole Redis: shared with anyone else using it). */
export async function redisCpuMicros(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const user = /used_cpu_user:([\d.]+)/.exec(info);
  const sys = /used_cpu_sys:([\d.]+)/.exec(info);
  if (!user || !sys) return Number.NaN;
  return (Number(user[1]) + Number(sys[1])) * 1e6;
}

/** CPU time the whole machine spent busy (all cores, everything but idle and iowait), in microseconds. */
export function machineBusyMicros(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const [, ...fields] = line.trim().split(/\s+/);
    const n = fields.map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user).
    const busy = n[0]! + n[1]! + n[2]! + n[5]! + n[6]! + n[7]!;
    return (busy * 1e6) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** One reading of everything the orchestrator watches. */
export interface Sample {
  at: number;
  /** CLOCK_MONOTONIC in µs (process.hrtime), the clock of --cpu-prof timestamps. */
  monoUs: number;
  serverCpuUs: number;
  serverRss: number;
  loadCpuUs: number[];
  redisCpuUs: number;
  machineBusyUs: number;
}

export function diff(a: Sample, b: Sample) {
  const wallUs = (b.at - a.at) * 1000;
  const loadCpuUs = b.loadCpuUs.map((v, i) => v - (a.loadCpuUs[i] ?? 0));
  const serverCpuUs = b.serverCpuUs - a.serverCpuUs;
  const redisCpuUs = b.redisCpuUs - a.redisCpuUs;
  const ours = serverCpuUs + loadCpuUs.reduce((x, y) => x + y, 0) + (Number.isFinite(redisCpuUs) ? redisCpuUs : 0);
  return {
    fromMonoUs: a.monoUs,
    toMonoUs: b.monoUs,
    wallMs: b.at - a.at,
    serverCpuUs: b.serverCpuUs - a.serverCpuUs,
    /** Share of one core the server used over the window. */
    serverCpuPct: (100 * (b.serverCpuUs - a.serverCpuUs)) / wallUs,
    loadCpuPct: loadCpuUs.map((v) => (100 * v) / wallUs),
    redisCpuUs: b.redisCpuUs - a.redisCpuUs,
    rssBefore: a.serverRss,
    rssAfter: b.serverRss,
    /** CPU the rest of the machine used meanwhile (other sessions, the kernel's softirq work), % of one core. */
    // Clock-tick rounding can make it slightly negative when nothing else ran.
    otherCpuPct: Math.max(0, (100 * (b.machineBusyUs - a.machineBusyUs - ours)) / wallUs),
  };
}

export function monoMicros(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + ns / 1e3;
}
