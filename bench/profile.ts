/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`) by self time: per function (name + file:line)
 * and per package / area. `npm run bench -- --profile` produces one for conflict-rooms during the
 * 1,000-subscriber fanout and calls this; it also runs standalone:
 *
 *   node --import tsx bench/profile.ts bench/results/profiles/<file>.cpuprofile [top=15]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileEntry {
  name: string;
  where: string;
  selfMs: number;
  /** Share of all samples, idle included. */
  pct: number;
  /** Share of the non-idle samples. */
  busyPct: number;
}

export interface ProfileSummary {
  file: string;
  /** Whether only the measured window was counted. */
  windowed: boolean;
  totalMs: number;
  idleMs: number;
  functions: ProfileEntry[];
  areas: ProfileEntry[];
}

const root = fileURLToPath(new URL('..', import.meta.url));

// ---- TypeScript positions ------------------------------------------------------------------------
// tsx runs the service from esbuild output (one long line per file), so V8 reports positions in that
// output. tsx caches each output with its source map in <tmpdir>/tsx-<uid>/; where the cache still
// holds a matching entry, positions are mapped back to the .ts line.

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Decoded mappings: per generated line, [generatedColumn, originalLine] pairs in column order. */
function decodeMappings(mappings: string): [number, number][][] {
  const lines: [number, number][][] = [];
  let originalLine = 0;
  let sourceIndex = 0;
  let originalColumn = 0;
  for (const lineText of mappings.split(';')) {
    const segments: [number, number][] = [];
    let column = 0;
    for (const segment of lineText.split(',')) {
      if (!segment) continue;
      const values: number[] = [];
      let value = 0;
      let shift = 0;
      for (const ch of segment) {
        const digit = B64.indexOf(ch);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          values.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      column += values[0] ?? 0;
      if (values.length >= 4) {
        sourceIndex += values[1]!;
        originalLine += values[2]!;
        originalColumn += values[3]!;
        segments.push([column, originalLine]);
      }
    }
    lines.push(segments);
  }
  void sourceIndex;
  void originalColumn;
  return lines;
}

interface CachedOutput {
  code: string;
  lines: [number, number][][];
  mtimeMs: number;
}

let tsxCache: Map<string, CachedOutput[]> | undefined;

function loadTsxCache(): Map<string, CachedOutput[]> {
  if (tsxCache) return tsxCache;
  tsxCache = new Map();
  const dir = join(tmpdir(), `tsx-${process.getuid?.() ?? 0}`);
  let files: string[] = [];
  try {
    files = readdirSync(dir);
  } catch {
    return tsxCache;
  }
  for (const name of files) {
    try {
      const path = join(dir, name);
      const entry = JSON.parse(readFileSync(path, 'utf8')) as { code?: string; map?: { mappings?: string; sources?: string[] } };
      const source = entry.map?.sources?.[0];
      if (!entry.code || !entry.map?.mappings || !source?.startsWith(root)) continue;
      const list = tsxCache.get(source) ?? [];
      list.push({ code: entry.code, lines: decodeMappings(entry.map.mappings), mtimeMs: statSync(path).mtimeMs });
      tsxCache.set(source, list);
    } catch {
      /* not an entry we understand */
    }
  }
  return tsxCache;
}

/** The cached output that best explains the profile's frames of `file` (their names at their columns). */
function pickOutput(file: string, frames: CallFrame[]): CachedOutput | undefined {
  const candidates = loadTsxCache().get(file) ?? [];
  let best: CachedOutput | undefined;
  let bestScore = -1;
  for (const candidate of candidates) {
    const codeLines = candidate.code.split('\n');
    let score = 0;
    for (const f of frames) {
      const line = codeLines[f.lineNumber];
      if (!line || f.columnNumber > line.length) {
        score -= 10;
        continue;
      }
      const name = f.functionName.split('.').pop();
      if (name && line.slice(Math.max(0, f.columnNumber - name.length - 40), f.columnNumber + 1).includes(name)) score++;
    }
    if (score > bestScore || (score === bestScore && best && candidate.mtimeMs > best.mtimeMs)) {
      best = candidate;
      bestScore = score;
    }
  }
  return bestScore >= 0 ? best : undefined;
}

function originalLine(output: CachedOutput, line: number, column: number): number | undefined {
  const segments = output.lines[line];
  if (!segments?.length) return undefined;
  let found: number | undefined;
  for (const [col, orig] of segments) {
    if (col > column) break;
    found = orig;
  }
  return found === undefined ? undefined : found + 1;
}

function shortUrl(url: string): string {
  let u = url.replace(/^file:\/\//, '');
  if (u.startsWith(root)) u = u.slice(root.length);
  return u;
}

/** What part of the stack a frame belongs to: a package, the service's own code, Node, or V8. */
function area(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native / V8 builtins)';
  const u = shortUrl(url);
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = u.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (u.startsWith('node:')) return `node:${u.slice(5).split('/')[0] === 'internal' ? u.slice(5).split('/').slice(0, 2).join('/') : u.slice(5)}`;
  if (u.startsWith('src/')) return `src/${u.split('/')[1]}`;
  return u;
}

/**
 * @param window only samples taken within [fromUs, toUs] of CLOCK_MONOTONIC (the clock V8 stamps
 * profiles with, and process.hrtime's) count; without it, the whole profile.
 */
export function summarizeProfile(file: string, top = 15, window?: { fromUs: number; toUs: number }): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // Sample i is stamped at startTime + timeDeltas[0..i] and lasts until sample i+1.
  let at = profile.startTime;
  let windowed = false;
  if (window && window.fromUs < profile.endTime && window.toUs > profile.startTime) windowed = true;
  // On a busy machine the process is often descheduled, typically on the way out of a system call:
  // the next sample then comes late and its gap would be charged to that frame (writev, mostly). So
  // each sample counts for at most twice the usual sampling interval: closer to CPU time than wall time.
  const sortedDeltas = profile.timeDeltas.filter((d) => d > 0).sort((a, b) => a - b);
  const cap = 2 * (sortedDeltas[sortedDeltas.length >> 1] ?? 1000);
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (windowed && (at < window!.fromUs || at > window!.toUs)) continue;
    const duration = Math.min(cap, profile.timeDeltas[i + 1] ?? 0);
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, duration));
  }
  // Map the service's own frames back to their TypeScript lines where tsx's cache allows.
  const framesByFile = new Map<string, CallFrame[]>();
  for (const node of profile.nodes) {
    const path = node.callFrame.url.replace(/^file:\/\//, '');
    if (path.startsWith(root) && path.endsWith('.ts') && !path.includes('node_modules')) {
      const list = framesByFile.get(path) ?? [];
      list.push(node.callFrame);
      framesByFile.set(path, list);
    }
  }
  const outputs = new Map([...framesByFile].map(([path, frames]) => [path, pickOutput(path, frames)]));
  const lineOf = (frame: CallFrame): string => {
    const path = frame.url.replace(/^file:\/\//, '');
    const output = outputs.get(path);
    const mapped = output ? originalLine(output, frame.lineNumber, frame.columnNumber) : undefined;
    if (mapped !== undefined) return String(mapped);
    return path.endsWith('.ts') && frame.lineNumber === 0 ? `1:${frame.columnNumber + 1} (generated)` : String(frame.lineNumber + 1);
  };
  const fn = new Map<string, { name: string; where: string; us: number }>();
  const ar = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url } = node.callFrame;
    const name = functionName || (url ? '(anonymous)' : '(unknown)');
    total += us;
    if (name === '(idle)') idle += us;
    const where = url ? `${shortUrl(url)}:${lineOf(node.callFrame)}` : '';
    const key = `${name}|${where}`;
    const entry = fn.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    fn.set(key, entry);
    const a = area(url, name);
    ar.set(a, (ar.get(a) ?? 0) + us);
  }
  const busy = total - idle;
  const toEntry = (name: string, where: string, us: number): ProfileEntry => ({
    name,
    where,
    selfMs: us / 1000,
    pct: (100 * us) / total,
    busyPct: name === '(idle)' ? Number.NaN : (100 * us) / busy,
  });
  const functions = [...fn.values()]
    .filter((e) => e.name !== '(idle)')
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => toEntry(e.name, e.where, e.us));
  const areas = [...ar.entries()]
    .filter(([name]) => name !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => toEntry(name, '', us));
  return { file, windowed, totalMs: total / 1000, idleMs: idle / 1000, functions, areas };
}

export function profileMarkdown(summary: ProfileSummary, context: string): string {
  const lines = [
    context,
    '',
    `Profile \`${shortUrl(summary.file)}\`${summary.windowed ? ', samples of the measured window only' : ', whole process life'}: ` +
      `${summary.totalMs.toFixed(0)} ms sampled (each sample counted for at most 2 sampling intervals, so time off-CPU is not charged), ` +
      `of which ${summary.idleMs.toFixed(0)} ms idle; ` +
      `shares below are of the ${(summary.totalMs - summary.idleMs).toFixed(0)} ms not idle.`,
    '',
    '| # | self time (ms) | % of busy | function | where |',
    '| ---: | ---: | ---: | --- | --- |',
    ...summary.functions.map((e, i) => `| ${i + 1} | ${e.selfMs.toFixed(0)} | ${e.busyPct.toFixed(1)} | \`${e.name}\` | ${e.where ? `\`${e.where}\`` : ''} |`),
    '',
    'Self time by area (package, the service\'s own folders, Node internals, V8):',
    '',
    '| area | self time (ms) | % of busy |',
    '| --- | ---: | ---: |',
    ...summary.areas.map((e) => `| \`${e.name}\` | ${e.selfMs.toFixed(0)} | ${e.busyPct.toFixed(1)} |`),
    '',
  ];
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node --import tsx bench/profile.ts <file.cpuprofile> [top]');
    process.exit(2);
  }
  console.log(profileMarkdown(summarizeProfile(file, Number(process.argv[3] ?? 15)), `Self time of ${file}`));
}
