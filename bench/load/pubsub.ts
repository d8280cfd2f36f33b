/**
 * Subscribers and writers shared by the fanout and throughput load generators (and idle-memory's
 * subscribers). A process may hold subscribers, writers or both; the orchestrator tells each what to do.
 *
 * Latency: the writer puts `<seq>:<send time>` in the selected value, the send time from
 * CLOCK_MONOTONIC (nowMs), which every process on the machine shares; a subscriber subtracts it from
 * its receive time. Each subscriber keeps the versions it saw, so lost / duplicated / out-of-order
 * events are counted against the versions the writers' selects were acknowledged with.
 */
import { type Connection, connect, type TargetInfo } from './clients.js';
import { type Handler, nowMs, pool, sleep } from './ipc.js';

export const FIELDS = ['productType', 'condition', 'price', 'quantity', 'meetingLocation'];

interface Subscriber {
  conn: Connection;
  room: string;
  sawAny: boolean;
  versions: number[];
  latencies: number[];
  errors: number;
}

interface Writer {
  conn: Connection;
  room: string;
  seq: number;
}

export interface SubscribeArgs {
  target: TargetInfo;
  /** One subscriber (and connection) each. */
  assignments: { room: string; userId: string }[];
  concurrency?: number;
}

export interface SubscribersReport {
  subscribers: number;
  deliveries: number;
  expectedDeliveries: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  /** Recorded versions that no measured select was acknowledged with (e.g. late warm-up events). */
  unexpected: number;
  errors: number;
  /** ms, one per delivery of an expected version. */
  latencies: Float64Array;
}

export interface WriteResult {
  sent: number;
  acked: number;
  errors: number;
  firstError?: string;
  /** Versions acknowledged, per room. */
  ackedVersions: Record<string, number[]>;
  /** ms from send to ack. */
  ackLatencies: Float64Array;
  elapsedMs: number;
}

export function pubsubHandlers(): { handlers: Record<string, Handler>; close(): void } {
  const subscribers: Subscriber[] = [];
  const writers: Writer[] = [];
  let recording = false;
  let warm: { stop: boolean; loops: Promise<void>[] } | undefined;

  const onEvent = (sub: Subscriber) => (event: { type: string; version: number; value?: string }) => {
    const received = nowMs();
    sub.sawAny = true;
    if (!recording) return;
    if (event.type !== 'FieldSelected' && event.type !== 'selected') return;
    sub.versions.push(event.version);
    const colon = event.value ? event.value.indexOf(':') : -1;
    sub.latencies.push(colon > 0 ? received - Number(event.value!.slice(colon + 1)) : Number.NaN);
  };

  const value = (writer: Writer) => `${writer.seq++}:${nowMs().toFixed(4)}`;

  const writeOnce = async (writer: Writer, result: WriteResult, latencies: number[]) => {
    const field = FIELDS[writer.seq % FIELDS.length]!;
    const sentAt = nowMs();
    result.sent++;
    try {
      const version = await writer.conn.select(writer.room, field, value(writer));
      latencies.push(nowMs() - sentAt);
      result.acked++;
      (result.ackedVersions[writer.room] ??= []).push(version);
    } catch (error) {
      result.errors++;
      result.firstError ??= error instanceof Error ? error.message : String(error);
      await sleep(10);
    }
  };

  /**
   * ratePerSecond 0: closed loop (next select when the last is acknowledged); else open loop at that
   * rate. meanIntervalMs instead: each writer at human pace, every meanIntervalMs on average (each gap
   * drawn from 0.5× to 1.5× of it, the first from 0 to 1×), so rooms do not write in step.
   */
  const runWriters = async (
    durationMs: number,
    ratePerSecond: number,
    shouldStop: () => boolean = () => false,
    meanIntervalMs = 0,
  ): Promise<WriteResult> => {
    const result: WriteResult = { sent: 0, acked: 0, errors: 0, ackedVersions: {}, ackLatencies: new Float64Array(), elapsedMs: 0 };
    const latencies: number[] = [];
    const start = nowMs();
    const end = start + durationMs;
    await Promise.all(
      writers.map(async (writer) => {
        if (meanIntervalMs > 0) {
          const inFlight: Promise<void>[] = [];
          for (let slot = start + Math.random() * meanIntervalMs; slot < end && !shouldStop(); slot += meanIntervalMs * (0.5 + Math.random())) {
            const wait = slot - nowMs();
            if (wait > 0) await sleep(wait);
            inFlight.push(writeOnce(writer, result, latencies));
          }
          await Promise.all(inFlight);
          return;
        }
        if (ratePerSecond <= 0) {
          while (nowMs() < end && !shouldStop()) await writeOnce(writer, result, latencies);
          return;
        }
        const interval = 1000 / ratePerSecond;
        const inFlight: Promise<void>[] = [];
        for (let i = 0; ; i++) {
          const slot = start + i * interval;
          if (slot >= end || shouldStop()) break;
          const wait = slot - nowMs();
          if (wait > 0) await sleep(wait);
          inFlight.push(writeOnce(writer, result, latencies));
        }
        await Promise.all(inFlight);
      }),
    );
    result.elapsedMs = nowMs() - start;
    result.ackLatencies = Float64Array.from(latencies);
    return result;
  };

  const handlers: Record<string, Handler> = {
    async subscribe(args: SubscribeArgs) {
      const started = nowMs();
      await pool(args.assignments, args.concurrency ?? 50, async ({ room, userId }) => {
        const conn = await connect(args.target, { userId, userName: userId });
        const sub: Subscriber = { conn, room, sawAny: false, versions: [], latencies: [], errors: 0 };
        subscribers.push(sub);
        await conn.subscribe(room, undefined, onEvent(sub), () => {
          sub.errors++;
        });
      });
      return { subscribers: subscribers.length, ms: nowMs() - started };
    },

    /** Resolves when every subscriber has received at least one event (or at the timeout). */
    async waitFirst(args: { timeoutMs: number }) {
      const deadline = nowMs() + args.timeoutMs;
      let ready = 0;
      while (nowMs() < deadline) {
        ready = subscribers.filter((s) => s.sawAny).length;
        if (ready === subscribers.length) break;
        await sleep(20);
      }
      return { ready, total: subscribers.length };
    },

    record() {
      for (const sub of subscribers) {
        sub.versions = [];
        sub.latencies = [];
      }
      recording = true;
    },

    /** Waits until each subscriber has seen every expected version of its room, or the timeout. */
    async drain(args: { expected: Record<string, number[]>; timeoutMs: number }) {
      const started = nowMs();
      const deadline = started + args.timeoutMs;
      const needed = new Map(Object.entries(args.expected).map(([room, versions]) => [room, new Set(versions)]));
      const done = (sub: Subscriber) => {
        const want = needed.get(sub.room);
        if (!want || want.size === 0) return true;
        if (sub.versions.length < want.size) return false;
        let seen = 0;
        const counted = new Set<number>();
        for (const v of sub.versions) if (want.has(v) && !counted.has(v)) (counted.add(v), seen++);
        return seen === want.size;
      };
      let pending = subscribers.slice();
      while (pending.length > 0 && nowMs() < deadline) {
        pending = pending.filter((s) => !done(s));
        if (pending.length > 0) await sleep(25);
      }
      return { drained: pending.length === 0, waitedMs: nowMs() - started };
    },

    report(args: { expected: Record<string, number[]> }): SubscribersReport {
      recording = false;
      const sets = new Map(Object.entries(args.expected).map(([room, versions]) => [room, new Set(versions)]));
      const out: SubscribersReport = {
        subscribers: subscribers.length,
        deliveries: 0,
        expectedDeliveries: 0,
        lost: 0,
        duplicated: 0,
        outOfOrder: 0,
        unexpected: 0,
        errors: 0,
        latencies: new Float64Array(),
      };
      const latencies: number[] = [];
      for (const sub of subscribers) {
        const want = sets.get(sub.room) ?? new Set<number>();
        out.expectedDeliveries += want.size;
        out.errors += sub.errors;
        const seen = new Set<number>();
        let maxSeen = -Infinity;
        sub.versions.forEach((version, i) => {
          if (!want.has(version)) {
            out.unexpected++;
            return;
          }
          if (seen.has(version)) {
            out.duplicated++;
            return;
          }
          if (version < maxSeen) out.outOfOrder++;
          maxSeen = Math.max(maxSeen, version);
          seen.add(version);
          out.deliveries++;
          latencies.push(sub.latencies[i]!);
        });
        out.lost += want.size - seen.size;
      }
      out.latencies = Float64Array.from(latencies);
      return out;
    },

    /**
     * Connects one writer per entry and joins it to its room as a participant; with `subscribe`, the
     * writer also follows its room on the same connection, as a person in a form does.
     */
    async writers(args: { target: TargetInfo; rooms: { room: string; userId: string }[]; concurrency?: number; subscribe?: boolean }) {
      const started = nowMs();
      await pool(args.rooms, args.concurrency ?? 50, async ({ room, userId }) => {
        const conn = await connect(args.target, { userId, userName: userId });
        await conn.join(room, userId);
        writers.push({ conn, room, seq: 0 });
        if (!args.subscribe) return;
        const sub: Subscriber = { conn, room, sawAny: false, versions: [], latencies: [], errors: 0 };
        subscribers.push(sub);
        await conn.subscribe(room, undefined, onEvent(sub), () => {
          sub.errors++;
        });
      });
      return { writers: writers.length, ms: nowMs() - started };
    },

    /** Writes in the background (same pacing as `write`) until stopWarm; nothing is recorded. */
    startWarm(args: { ratePerSecond: number; maxMs: number }) {
      const state = { stop: false, loops: [] as Promise<void>[] };
      state.loops.push(runWriters(args.maxMs, args.ratePerSecond, () => state.stop).then(() => undefined));
      warm = state;
      return { started: true };
    },

    async stopWarm() {
      if (!warm) return { stopped: false };
      warm.stop = true;
      await Promise.all(warm.loops);
      warm = undefined;
      return { stopped: true };
    },

    write(args: { durationMs: number; ratePerSecond: number; meanIntervalMs?: number }) {
      return runWriters(args.durationMs, args.ratePerSecond, undefined, args.meanIntervalMs);
    },

    /** One select by the first writer of each room, all at once (bounded): every room has an event. */
    async touch(args: { concurrency?: number }) {
      const firsts = [...new Map(writers.map((w) => [w.room, w])).values()];
      const result: WriteResult = { sent: 0, acked: 0, errors: 0, ackedVersions: {}, ackLatencies: new Float64Array(), elapsedMs: 0 };
      await pool(firsts, args.concurrency ?? 50, (writer) => writeOnce(writer, result, []));
      return { acked: result.acked, errors: result.errors, firstError: result.firstError };
    },

    close() {
      close();
      return { closed: true };
    },
  };

  const close = () => {
    // A writer that also subscribed holds one connection for both: close each once.
    const connections = new Set([...subscribers.splice(0), ...writers.splice(0)].map((x) => x.conn));
    for (const conn of connections) conn.close();
  };

  return { handlers, close };
}
