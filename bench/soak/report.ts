/** The soak's report, as markdown (bench/results/soak.md). */
import type { FollowStats } from './followers.js';
import type { WriteStats } from './writers.js';

export interface SoakReport {
  startedAt: Date;
  durationS: number;
  options: { durationS: number; rooms: number; rate: number };
  machine: string;
  commit: string;
  subscriptions: number;
  connections: number;
  writes: WriteStats;
  follow: FollowStats;
  faults: Array<{ atS: number; what: string; ok: boolean }>;
  /** Every subscriber reached the server's version before the comparison. */
  settled: boolean;
  divergent: Array<{ room: string; subscriberVersion: number | null; serverVersion: number | null }>;
  divergentRooms: number;
}

export function renderReport(r: SoakReport): string {
  const { writes: w, follow: f } = r;
  const verdict = f.gaps === 0 && f.duplicates === 0 && r.divergentRooms === 0;
  const rejected = Object.entries(w.rejected).map(([code, n]) => `${code} ${n}`).join(', ') || 'none';
  return [
    '# Soak',
    '',
    `\`npm run soak -- --duration ${r.options.durationS} --rooms ${r.options.rooms} --rate ${r.options.rate}\` on commit \`${r.commit}\`, ` +
      `${r.startedAt.toISOString()}, ${r.durationS.toFixed(0)} s in all; ${r.machine}. Loopback only: its own redis-server ` +
      '(AOF, appendfsync everysec) and two instances of the production build (`node dist/main.js`).',
    '',
    `**${verdict ? 'Passed' : 'FAILED'}**: ${f.gaps} gaps, ${f.duplicates} duplicates, ${r.divergentRooms} divergent rooms.`,
    '',
    '## Workload',
    '',
    `- ${r.options.rooms} rooms, each with two writing participants (HTTP, round robin over both instances, a requestId per ` +
      'write, retried on the next instance while the answer is lost or the store is unavailable): 80 % selectField, 10 % ' +
      'clearField, 10 % setReady by one participant only (so no room resolves).',
    `- ${r.subscriptions} subscriptions on ${r.connections} graphql-ws connections: each room followed by a participant and a ` +
      'watcher, on different instances at first. A follower queries the room, subscribes from its version and applies ' +
      "events with the SDK's `applyEvent`; after a disconnect it subscribes again from the last version it applied, on " +
      'the next instance (round robin, as a load balancer would).',
    '',
    '## Faults',
    '',
    '| at s | what |',
    '| --- | --- |',
    ...r.faults.map((x) => `| ${x.atS.toFixed(1)} | ${x.what}${x.ok ? '' : ' **(unexpected)**'} |`),
    '',
    '## Results',
    '',
    '| measure | value |',
    '| --- | --- |',
    `| writes attempted | ${w.attempted} |`,
    `| writes acknowledged | ${w.acknowledged} |`,
    `| retries (lost answers, instance down, store unavailable) | ${w.retries} |`,
    `| writes given up after 60 s | ${w.gaveUp} |`,
    `| writes refused | ${rejected} |`,
    `| events delivered (applied by subscribers) | ${f.events} |`,
    `| **gaps** (a version skipped) | ${f.gaps} |`,
    `| **duplicates** (a version seen twice) | ${f.duplicates} |`,
    `| RoomSnapshot received (the log could not resume) | ${f.snapshots} |`,
    `| room reloads (after a gap) | ${f.reloads} |`,
    `| subscriptions resumed from the last version applied | ${f.resumes} |`,
    `| subscriptions ended by an error message (a closed socket is a reconnect instead) | ${f.subscriptionErrors} |`,
    `| reconnects / failed connection attempts | ${f.reconnects} / ${f.failedConnects} |`,
    `| every subscriber caught up with the server before comparing | ${r.settled ? 'yes' : 'no (30 s)'} |`,
    `| **divergent rooms** (a subscriber's room ≠ the server's \`conflictRoom\`) | ${r.divergentRooms} |`,
    '',
    ...(r.divergent.length
      ? ['Divergent (first 20):', '', ...r.divergent.slice(0, 20).map((x) => `- ${x.room}: subscriber at version ${x.subscriberVersion}, server at ${x.serverVersion}`), '']
      : []),
  ].join('\n');
}
