/**
 * What a room's history costs in Redis, measured with MEMORY USAGE on real keys written by the real
 * commit script: `node --import tsx bench/history-memory.ts` (REDIS_URL, default 127.0.0.1:6379).
 * Uses its own key prefix and deletes it afterwards. Numbers go to the README ("After the agreement").
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { redisKeys } from '../src/adapters/redis-keys.js';
import { RedisResolutionOutbox } from '../src/adapters/redis-resolution-outbox.js';
import { RedisRoomStore } from '../src/adapters/redis-room-store.js';
import { defaultLimits } from '../src/domain/limits.js';
import { emptyRoom, type RoomState } from '../src/domain/room.js';
import { decide, type RoomCommand } from '../src/domain/rules.js';
import { deleteUnder } from '../test/utils/redis-server.js';

const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const prefix = `crbench:memory:${randomBytes(4).toString('hex')}:`;
const keys = redisKeys(prefix);
new RedisResolutionOutbox({ client, keys, ttlSeconds: 3600 });
const store = new RedisRoomStore({ client, keys, ttlSeconds: 3600, eventLogLength: 1000, historyMaxEvents: 10_000, requestIdTtlSeconds: 60, timeoutMs: 5000, recordResolutions: true });

async function run(tx: string, steps: Array<[string, RoomCommand]>): Promise<RoomState> {
  let room = emptyRoom(tx, randomBytes(16).toString('hex'));
  let revision = 0;
  for (const [userId, command] of steps) {
    const decision = decide(room, command, { userId, now: new Date().toISOString(), limits: defaultLimits });
    if (!decision.changed) continue;
    const result = await store.commit({ transactionId: tx, baseRevision: revision, room: decision.room, events: decision.events });
    if (result.status !== 'committed') throw new Error(result.status);
    room = decision.room;
    revision = result.revision;
  }
  return room;
}

const usage = async (key: string) => Number(await client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
const names: Record<string, string> = { buyer: 'Maria Santos', seller: 'Jun Dela Cruz' };
const join = (userId: string): [string, RoomCommand] => [userId, { kind: 'join', userName: names[userId]!, presence: { online: true, seq: 1 } }];
const select = (userId: string, field: string, value: string): [string, RoomCommand] => [userId, { kind: 'select', field, value }];
const ready = (userId: string): [string, RoomCommand] => [userId, { kind: 'setReady', isReady: true }];

try {
  // A typical room: two parties, five fields, a few changes of mind, presence blinks, resolution.
  const typical = await run('typical-room-000123', [
    join('buyer'),
    join('seller'),
    select('seller', 'productType', 'iPhone 13'),
    select('seller', 'condition', 'Like New'),
    select('buyer', 'price', '42000'),
    select('seller', 'price', '46000'),
    select('buyer', 'price', '45000'),
    select('buyer', 'quantity', '1'),
    select('buyer', 'meetingLocation', 'SM Mall'),
    ['buyer', { kind: 'presence', marks: [{ userId: 'buyer', online: false, seq: 2 }] }],
    ['buyer', { kind: 'presence', marks: [{ userId: 'buyer', online: true, seq: 3 }] }],
    select('seller', 'meetingLocation', 'SM Mall, main entrance'),
    ready('seller'),
    ready('buyer'),
  ]);
  const tx = typical.transactionId;
  const log = await usage(keys.log(tx));
  const hash = await usage(keys.room(tx));
  const outbox = await usage(keys.outboxEntry(tx, typical.epoch));
  const eventBytes = (await client.xrange(keys.log(tx), '-', '+')).reduce((sum, [, fields]) => sum + Buffer.byteLength(fields[1] ?? ''), 0);
  console.log(JSON.stringify({ typical: { events: typical.version, logBytes: log, roomHashBytes: hash, outboxEntryBytes: outbox, eventJsonBytes: eventBytes } }));

  // The marginal cost of one more event: a long room of small selects.
  const long: Array<[string, RoomCommand]> = [join('buyer'), join('seller')];
  for (let i = 0; i < 10_000; i++) long.push(select(i % 2 ? 'buyer' : 'seller', 'price', String(40_000 + i)));
  const big = await run('long-room-000456', long);
  const bigLog = await usage(keys.log(big.transactionId));
  console.log(JSON.stringify({ long: { events: big.version, logBytes: bigLog, bytesPerEvent: Math.round(bigLog / big.version) } }));

  // The worst case per event: values of the longest length allowed (MAX_VALUE_LENGTH, 1,024).
  const wide: Array<[string, RoomCommand]> = [join('buyer'), join('seller')];
  for (let i = 0; i < 2000; i++) wide.push(select(i % 2 ? 'buyer' : 'seller', 'notes', String(i).padEnd(1024, 'x')));
  const widest = await run('wide-room-000789', wide);
  const wideLog = await usage(keys.log(widest.transactionId));
  console.log(JSON.stringify({ wide: { events: widest.version, logBytes: wideLog, bytesPerEvent: Math.round(wideLog / widest.version) } }));
} finally {
  await deleteUnder(client, prefix);
  client.disconnect();
}
