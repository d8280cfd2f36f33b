/**
 * Load generator for the idle-memory scenario: opens idle subscriptions (one connection each) spread
 * over the rooms, confirms each is live with one selection per room, then holds them while the
 * orchestrator reads the server's RSS. Same subscriber commands as fanout (pubsub.ts), plus `warm`.
 */
import { connect, type TargetInfo } from './clients.js';
import { serve, sleep } from './ipc.js';
import { pubsubHandlers } from './pubsub.js';

const { handlers, close } = pubsubHandlers();

serve(
  {
    ...handlers,
    /** Exercises every code path once (join, select, subscribe, receive, close) before the baseline. */
    async warm(args: { target: TargetInfo; rooms: string[]; subscribers: number }) {
      const writer = await connect(args.target, { userId: 'warm-writer' });
      const subs = await Promise.all(
        Array.from({ length: args.subscribers }, async (_, i) => {
          const conn = await connect(args.target, { userId: `warm${i}` });
          let seen = false;
          await conn.subscribe(args.rooms[i % args.rooms.length]!, undefined, () => {
            seen = true;
          });
          return { conn, seen: () => seen };
        }),
      );
      for (let attempt = 0; attempt < 100 && !subs.every((s) => s.seen()); attempt++) {
        for (const room of args.rooms.slice(0, args.subscribers)) {
          await writer.join(room);
          await writer.select(room, 'price', 'warm');
        }
        await sleep(50);
      }
      for (const s of subs) s.conn.close();
      writer.close();
      return { warmed: subs.filter((s) => s.seen()).length };
    },
  },
  close,
);
