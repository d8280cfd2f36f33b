/** Summaries over runs, the target checks and the markdown table; all written by the run. */
import type { Scenario } from './scenarios.js';
import { median, spread } from './stats.js';
import { LABELS, TARGETS, type TargetName } from './targets.js';

export interface RunRecord {
  run: number;
  target: TargetName;
  ok: boolean;
  wallMs: number;
  metrics: Record<string, number>;
  details?: Record<string, unknown>;
  error?: string;
}

export interface ScenarioRecord {
  id: string;
  title: string;
  workload: string;
  metrics: Scenario['metrics'];
  runs: RunRecord[];
  summary: Partial<Record<TargetName, Record<string, { median: number; min: number; max: number; values: number[] }>>>;
}

export interface TargetCheck {
  scenario: string;
  metric: string;
  text: string;
  against: TargetName;
  limit: number;
  /** true: the ratio must be below the limit; false: at most. */
  strict: boolean;
  /** An informational comparison, not a target: shown with its ratio, never met or not met. */
  info?: boolean;
}

export const TARGET_CHECKS: TargetCheck[] = [
  // Issue 10's targets (items 9 to 11).
  { scenario: 'fanout-1000', metric: 'cpuUsPerDelivery', text: 'fanout 1,000: server CPU µs per delivery within 1.25× bare ws', against: 'ws', limit: 1.25, strict: false },
  { scenario: 'fanout-1000', metric: 'latencyP99', text: 'fanout 1,000: delivery p99 within 1.25× bare ws', against: 'ws', limit: 1.25, strict: false },
  { scenario: 'fanout-1000', metric: 'cpuUsPerDelivery', text: 'fanout 1,000: server CPU µs per delivery below Socket.IO + Redis', against: 'socketio', limit: 1, strict: true },
  { scenario: 'throughput', metric: 'cpuUsPerSelect', text: 'throughput: server CPU µs per acknowledged select at most 0.8× Socket.IO + Redis', against: 'socketio', limit: 0.8, strict: false },
  // Issue 10 item 9: against the server most teams would write first (HSET + emit, bench/servers/socketio-server.ts with SOCKETIO_PLAIN=1).
  {
    scenario: 'throughput',
    metric: 'cpuUsPerSelect',
    text: 'throughput: server CPU µs per acknowledged select at most 1.2× plain Socket.IO + Redis',
    against: 'socketio-plain',
    limit: 1.2,
    strict: false,
  },
  { scenario: 'latejoin', metric: 'cpuUsPerSync', text: 'latejoin: server CPU µs per sync at most 0.8× Socket.IO + Redis', against: 'socketio', limit: 0.8, strict: false },
  { scenario: 'idle-memory', metric: 'rssKbPerSubscription', text: "idle memory: RSS per subscription at most Socket.IO's per socket", against: 'socketio', limit: 1, strict: false },
  // Issue 13's targets, at 5,000 rooms (idle CPU ≤ 3 % of a core is absolute: read it in the table).
  { scenario: 'rooms-5000', metric: 'cpuUsPerDelivery', text: '5,000 small rooms: server CPU µs per delivered event at most Socket.IO + Redis', against: 'socketio', limit: 1, strict: false },
  { scenario: 'rooms-5000', metric: 'latencyP99', text: '5,000 small rooms: delivery p99 within 2× Socket.IO + Redis', against: 'socketio', limit: 2, strict: false },
  { scenario: 'rooms-5000', metric: 'rssKbPerRoom', text: '5,000 small rooms: server RSS per room at most Socket.IO + Redis', against: 'socketio', limit: 1, strict: false },
  // Not a target: the same comparison as throughput's, at human pace.
  {
    scenario: 'rooms-5000',
    metric: 'cpuUsPerSelect',
    text: '5,000 small rooms: server CPU µs per acked select, beside plain Socket.IO + Redis',
    against: 'socketio-plain',
    limit: Number.NaN,
    strict: false,
    info: true,
  },
];

export function summarizeScenario(record: ScenarioRecord): void {
  for (const target of TARGETS) {
    const runs = record.runs.filter((r) => r.target === target && r.ok);
    if (runs.length === 0) continue;
    const out: Record<string, { median: number; min: number; max: number; values: number[] }> = {};
    for (const metric of record.metrics) {
      const values = runs.map((r) => r.metrics[metric.key] ?? Number.NaN);
      out[metric.key] = { median: median(values), ...spread(values), values };
    }
    record.summary[target] = out;
  }
}

export interface CheckResult {
  text: string;
  scenario: string;
  metric: string;
  against: TargetName;
  limit: number;
  strict: boolean;
  service: number;
  reference: number;
  ratio: number;
  met: boolean | null;
  /** Per run: the ratio of that run's pair of measurements. */
  perRun: number[];
  info?: boolean;
}

export function checkTargets(records: ScenarioRecord[]): CheckResult[] {
  const out: CheckResult[] = [];
  for (const check of TARGET_CHECKS) {
    const record = records.find((r) => r.id === check.scenario);
    if (!record) continue;
    const service = record.summary.service?.[check.metric]?.median ?? Number.NaN;
    const reference = record.summary[check.against]?.[check.metric]?.median ?? Number.NaN;
    const ratio = service / reference;
    const met = check.info || !Number.isFinite(ratio) ? null : check.strict ? ratio < check.limit : ratio <= check.limit;
    const runs = [...new Set(record.runs.map((r) => r.run))];
    const perRun = runs.map((run) => {
      const s = record.runs.find((r) => r.run === run && r.target === 'service' && r.ok)?.metrics[check.metric];
      const ref = record.runs.find((r) => r.run === run && r.target === check.against && r.ok)?.metrics[check.metric];
      return s !== undefined && ref !== undefined ? s / ref : Number.NaN;
    });
    out.push({ ...check, service, reference, ratio, met, perRun });
  }
  return out;
}

const fmt = (value: number, digits: number) => {
  if (!Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
};

function cell(summary: { median: number; min: number; max: number; values: number[] } | undefined, digits: number): string {
  if (!summary) return 'failed';
  const m = fmt(summary.median, digits);
  if (summary.values.length < 2) return m;
  const lo = fmt(summary.min, digits);
  const hi = fmt(summary.max, digits);
  return lo === hi ? m : `${m} (${lo}–${hi})`;
}

function ratioCell(value: number | undefined, floor: number | undefined): string {
  if (value === undefined || floor === undefined || !Number.isFinite(value) || !Number.isFinite(floor) || floor === 0) return '';
  const r = value / floor;
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(2)}×`;
}

export interface Meta {
  startedAt: string;
  durationS: number;
  commit: string;
  dirty: boolean;
  node: string;
  cpus: number;
  cpuModel: string;
  loadavg: number[];
  quick: boolean;
  runs: number;
  srcHash?: string;
}

export function markdown(meta: Meta, records: ScenarioRecord[], checks: CheckResult[]): string {
  const lines: string[] = [];
  lines.push(
    `Run of ${meta.startedAt} on commit \`${meta.commit.slice(0, 12)}\`${meta.dirty ? ` with uncommitted changes to src/ (src/ content hash \`${meta.srcHash}\`)` : ''}: ` +
      `${meta.runs} run(s) per target, alternating the order of the targets${meta.quick ? ', **quick mode (short smoke durations: not for comparison)**' : ''}; ` +
      `${meta.cpus} × ${meta.cpuModel}, Node ${meta.node}; took ${Math.round(meta.durationS)} s. ` +
      `Each cell is the median over runs, with the range (min–max) in parentheses; ×ws is the ratio of the medians to bare ws.`,
  );
  lines.push('');
  for (const record of records) {
    lines.push(`### ${record.title}`, '', `Workload: ${record.workload}.`, '');
    // A column for each target that ran in this scenario (ok or failed), in TARGETS order.
    const ran = TARGETS.filter((t) => record.runs.some((r) => r.target === t));
    if (ran.length === 0) {
      lines.push('(no target ran in this scenario)', '');
      continue;
    }
    const header = ['', ...ran.flatMap((t) => (t === 'ws' ? [LABELS[t]] : [LABELS[t], '×ws']))];
    lines.push(`| ${header.join(' | ')} |`);
    lines.push(`| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`);
    for (const metric of record.metrics) {
      const row = [metric.label];
      const floor = record.summary.ws?.[metric.key]?.median;
      for (const target of ran) {
        const summary = record.summary[target]?.[metric.key];
        row.push(cell(summary, metric.digits));
        if (target !== 'ws') row.push(metric.ratio ? ratioCell(summary?.median, floor) : '');
      }
      lines.push(`| ${row.join(' | ')} |`);
    }
    const failures = record.runs.filter((r) => !r.ok);
    for (const f of failures) lines.push('', `Run ${f.run} against ${LABELS[f.target]} failed: ${(f.error ?? '').split('\n')[0]}`);
    lines.push('');
  }
  lines.push('### Targets', '');
  if (checks.length === 0) lines.push('(no scenario with a target ran)');
  for (const c of checks) {
    const verdict = c.info ? (Number.isFinite(c.ratio) ? 'info' : 'info, not measured') : c.met === null ? 'NOT MEASURED' : c.met ? 'met' : 'NOT MET';
    const limit = c.info ? 'no target' : c.against === 'ws' ? `limit ${c.limit}×` : c.strict ? `must be < ${c.limit}×` : `must be ≤ ${c.limit}×`;
    const perRun = c.perRun.map((r) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : '–')).join(', ');
    lines.push(
      `- **${verdict}**: ${c.text}: ${Number.isFinite(c.ratio) ? c.ratio.toFixed(2) : '–'}× ${LABELS[c.against]} ` +
        `(${fmt(c.service, 2)} vs ${fmt(c.reference, 2)}; ${limit}; per run: ${perRun})`,
    );
  }
  lines.push('');
  return lines.join('\n');
}
