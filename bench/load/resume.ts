/**
 * Load generator for the resume scenario. setup: a writer joins a room, a subscriber sees the
 * writer's first selection (version v0) and goes away, then the writer makes `missed` more
 * selections (closed loop). resume: a new connection subscribes with afterVersion v0 and is timed
 * until it has received the last of them; repeated `iterations` times, one after the other.
 */
import { type Connection, connect, type TargetInfo } from './clients.js';
import { nowMs, serve, sleep, withTimeout } from './ipc.js';

let writer: Connection | undefined;
let state: { target: TargetInfo; room: string; v0: number; last: number; missed: number } | undefined;

serve(
  {
    async setup(args: { target: TargetInfo; room: string; missed: number }) {
      writer = await connect(args.target, { userId: 'writer' });
      await writer.join(args.room);
      const observer = await connect(args.target, { userId: 'observer' });
      let seen = 0;
      await observer.subscribe(args.room, undefined, (event) => {
        seen = Math.max(seen, event.version);
      });
      // The observer's subscription may take a moment to be live (graphql-ws does not acknowledge).
      let v0 = 0;
      const deadline = nowMs() + 15_000;
      while (seen === 0 || seen < v0) {
        if (nowMs() > deadline) throw new Error('the observer saw no event');
        v0 = await writer.select(args.room, 'price', `start:${nowMs()}`);
        await sleep(50);
      }
      v0 = seen;
      observer.close();
      let last = v0;
      const fields = ['productType', 'condition', 'price', 'quantity', 'meetingLocation'];
      for (let i = 0; i < args.missed; i++) last = await writer.select(args.room, fields[i % fields.length]!, `${i}:${nowMs()}`);
      state = { target: args.target, room: args.room, v0, last, missed: args.missed };
      return { v0, last };
    },

    async resume(args: { iterations: number; timeoutMs: number }) {
      if (!state) throw new Error('setup first');
      const { target, room, v0, last } = state;
      const times: number[] = [];
      const firstEventMs: number[] = [];
      const connectMs: number[] = [];
      let incomplete = 0;
      let duplicated = 0;
      let gaps = 0;
      let snapshots = 0;
      let received = 0;
      for (let i = 0; i < args.iterations; i++) {
        const start = nowMs();
        const conn = await connect(target, { userId: `resumer${i}` });
        connectMs.push(nowMs() - start);
        let done!: () => void;
        const caughtUp = new Promise<void>((resolve) => (done = resolve));
        let previous = v0;
        let first = true;
        await conn.subscribe(room, v0, (event) => {
          if (first) {
            firstEventMs.push(nowMs() - start);
            first = false;
          }
          received++;
          if (event.type === 'RoomSnapshot') snapshots++;
          else if (event.version <= previous) duplicated++;
          else if (event.version !== previous + 1) gaps++;
          previous = Math.max(previous, event.version);
          if (previous >= last) done();
        });
        try {
          await withTimeout(caughtUp, args.timeoutMs, 'resume');
          times.push(nowMs() - start);
        } catch {
          incomplete++;
        }
        conn.close();
        await sleep(20);
      }
      return { times, firstEventMs, connectMs, incomplete, duplicated, gaps, snapshots, received, expectedPerResume: last - v0 };
    },
  },
  () => writer?.close(),
);
