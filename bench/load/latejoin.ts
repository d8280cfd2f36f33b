/**
 * Load generator for the latejoin scenario: builds a room with N participants and M selections,
 * then runs C closed-loop clients that each fetch the whole room over HTTP (conflictRoom for
 * conflict-rooms, GET /sync for the reference servers), one request after the other.
 */
import { connect, syncer, type TargetInfo } from './clients.js';
import { nowMs, pool, serve } from './ipc.js';

serve({
  async setup(args: { target: TargetInfo; room: string; participants: number; selections: number }) {
    const conns = await pool(
      Array.from({ length: args.participants }, (_, i) => `p${i}`),
      10,
      async (userId) => {
        const conn = await connect(args.target, { userId, userName: `Participant ${userId}` });
        await conn.join(args.room);
        return conn;
      },
    );
    let version = 0;
    for (let i = 0; i < args.selections; i++) {
      const conn = conns[i % conns.length]!;
      version = await conn.select(args.room, `field${String(i).padStart(2, '0')}`, `value ${i} ${'x'.repeat(24)}`);
    }
    for (const conn of conns) conn.close();
    return { version };
  },

  async run(args: { target: TargetInfo; room: string; clients: number; durationMs: number }) {
    const client = syncer(args.target, args.clients);
    const latencies: number[] = [];
    let errors = 0;
    let firstError: string | undefined;
    let check: { version: number; selections: number; participants: number } | undefined;
    const start = nowMs();
    const end = start + args.durationMs;
    await Promise.all(
      Array.from({ length: args.clients }, async (_, i) => {
        while (nowMs() < end) {
          const t = nowMs();
          try {
            const room = await client.sync(args.room, `reader${i}`);
            latencies.push(nowMs() - t);
            check ??= room;
          } catch (error) {
            errors++;
            firstError ??= error instanceof Error ? error.message : String(error);
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
        }
      }),
    );
    const elapsedMs = nowMs() - start;
    client.close();
    return { count: latencies.length, errors, firstError, check, elapsedMs, latencies: Float64Array.from(latencies) };
  },
});
