import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import { redisKeys } from '../../src/adapters/redis-keys.js';
import { RedisRoomEvents } from '../../src/adapters/redis-room-events.js';
import { RedisRoomStore } from '../../src/adapters/redis-room-store.js';
import { StoreUnavailableError } from '../../src/errors.js';
import { deleteUnder, keysUnder, type RedisProcess, startRedisServer } from '../utils/redis-server.js';
import { BatchCollector, RoomDriver, contractStoreOptions, presence, roomStoreContract } from './room-store.contract.js';

const redisUrl = inject('redisUrl');
const STORE_TIMEOUT_MS = 1500;

interface Options {
  url?: string;
  ttlSeconds?: number;
  eventLogLength?: number;
  requestIdTtlSeconds?: number;
}

interface Harness {
  prefix: string;
  client: Redis;
  subscriber: Redis;
  store: RedisRoomStore;
  events: RedisRoomEvents;
  keys: ReturnType<typeof redisKeys>;
  /** Deletes the keys under this harness' prefix on the shared Redis and disconnects both clients. */
  cleanup(): Promise<void>;
}

async function ready(connection: Redis): Promise<void> {
  if (connection.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis did not become ready within 5 s (${connection.status})`)), 5000);
    connection.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}


/** Clients built as src/adapters/index.ts builds them; a key prefix of the test's own. */
async function harness(options: Options = {}): Promise<Harness> {
  const url = options.url ?? redisUrl;
  const prefix = `crtest:store:${randomBytes(8).toString('hex')}:`;
  const common = { connectTimeout: 2000, retryStrategy: (attempt: number) => Math.min(100 * attempt, 1000) };
  const client = new Redis(url, {
    ...common,
    enableOfflineQueue: false,
    commandTimeout: STORE_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
  });
  const subscriber = new Redis(url, { ...common, maxRetriesPerRequest: null });
  client.on('error', () => undefined);
  subscriber.on('error', () => undefined);
  await Promise.all([ready(client), ready(subscriber)]);
  const keys = redisKeys(prefix);
  const store = new RedisRoomStore({
    client,
    keys,
    timeoutMs: STORE_TIMEOUT_MS,
    ttlSeconds: options.ttlSeconds ?? contractStoreOptions.ttlSeconds,
    eventLogLength: options.eventLogLength ?? contractStoreOptions.eventLogLength,
    historyMaxEvents: contractStoreOptions.historyMaxEvents,
    requestIdTtlSeconds: options.requestIdTtlSeconds ?? contractStoreOptions.requestIdTtlSeconds,
  });
  const events = new RedisRoomEvents({ subscriber, keys, subscribeTimeoutMs: STORE_TIMEOUT_MS });
  let cleaned = false;
  return {
    prefix,
    client,
    subscriber,
    store,
    events,
    keys,
    cleanup: async () => {
      if (cleaned) return;
      cleaned = true;
      try {
        // A dedicated server is killed by its test and takes its keys along; the shared one is cleaned.
        if (!options.url) await deleteUnder(client, prefix);
      } finally {
        await events.close();
        await store.close();
        client.disconnect();
        subscriber.disconnect();
      }
    },
  };
}

/** Retries `check` until it stops throwing; rethrows its last failure after timeoutMs. */
async function eventually<T>(check: () => Promise<T>, timeoutMs = 5000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  }
}

roomStoreContract('redis', async () => harness());

describe('redis store only', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function make(options: Options = {}): Promise<Harness> {
    const h = await harness(options);
    cleanups.push(h.cleanup);
    return h;
  }

  it('keeps every key of one room under the hash tag {transactionId}', async () => {
    const { store, client, prefix, keys } = await make();
    const room = await RoomDriver.open(store, 'tx-tag:1');
    await room.join('u:1');
    await room.select('u:1', 'price', '1', { userId: 'u:1', requestId: 'r:1' });

    const found = await keysUnder(client, prefix);
    expect(found).toEqual([keys.log('tx-tag:1'), keys.request('tx-tag:1', 'u:1', 'r:1'), keys.room('tx-tag:1')].sort());
    expect(found).toHaveLength(3);
    for (const key of found) {
      expect(key.startsWith(prefix)).toBe(true);
      // Redis Cluster hashes the first {...} of a key: for every key of the room it is the transaction id.
      const open = key.indexOf('{');
      expect(key.slice(open + 1, key.indexOf('}', open))).toBe('tx-tag:1');
    }
    expect(keys.channel('tx-tag:1')).toBe(`${prefix}{tx-tag:1}:events`);
  });

  it('sets the TTL of the room hash and log to ttlSeconds on a commit and refreshes it on the next', async () => {
    const { store, client, keys } = await make({ ttlSeconds: 1000, requestIdTtlSeconds: 500 });
    const room = await RoomDriver.open(store, 'tx-ttl');
    await room.join('u1');
    const roomKey = keys.room('tx-ttl');
    const logKey = keys.log('tx-ttl');
    for (const key of [roomKey, logKey]) {
      const ttl = await client.ttl(key);
      expect(ttl).toBeGreaterThanOrEqual(998);
      expect(ttl).toBeLessThanOrEqual(1000);
    }

    // Age both keys, then commit again: the TTLs are back to ttlSeconds.
    await client.expire(roomKey, 10);
    await client.expire(logKey, 10);
    expect(await client.ttl(roomKey)).toBeLessThanOrEqual(10);
    await room.select('u1', 'price', '1');
    for (const key of [roomKey, logKey]) {
      const ttl = await client.ttl(key);
      expect(ttl).toBeGreaterThanOrEqual(998);
      expect(ttl).toBeLessThanOrEqual(1000);
    }

    // A commit without events refreshes them as well.
    await client.expire(roomKey, 10);
    await client.expire(logKey, 10);
    await room.apply('u1', presence('u1', 1));
    await room.apply('u1', presence('u1', 3));
    for (const key of [roomKey, logKey]) {
      const ttl = await client.ttl(key);
      expect(ttl).toBeGreaterThanOrEqual(998);
      expect(ttl).toBeLessThanOrEqual(1000);
    }
  });

  it('keeps a succeeded request for requestIdTtlSeconds', async () => {
    const { store, client, keys } = await make({ ttlSeconds: 1000, requestIdTtlSeconds: 500 });
    const room = await RoomDriver.open(store, 'tx-req-ttl');
    await room.join('u1');
    await room.select('u1', 'price', '1', { userId: 'u1', requestId: 'r1' });
    const ttl = await client.ttl(keys.request('tx-req-ttl', 'u1', 'r1'));
    expect(ttl).toBeGreaterThanOrEqual(498);
    expect(ttl).toBeLessThanOrEqual(500);

    // A request-only commit is remembered for as long.
    await store.commit({ transactionId: 'tx-req-ttl', baseRevision: 2, room: null, events: [], request: { userId: 'u1', requestId: 'r2' } });
    const ttl2 = await client.ttl(keys.request('tx-req-ttl', 'u1', 'r2'));
    expect(ttl2).toBeGreaterThanOrEqual(498);
    expect(ttl2).toBeLessThanOrEqual(500);

    // Once the key is gone the request is new again.
    await client.del(keys.request('tx-req-ttl', 'u1', 'r1'));
    expect(await store.load('tx-req-ttl', { userId: 'u1', requestId: 'r1' })).toEqual({ room: room.room, revision: 2, requestDone: false });
  });

  it('holds one Redis subscription per room per instance, released after the last listener', async () => {
    const { events, client, keys, store } = await make();
    const channel = keys.channel('tx-numsub');
    const numsub = async () => {
      const reply = (await client.pubsub('NUMSUB', channel)) as [string, number];
      return Number(reply[1]);
    };
    expect(await numsub()).toBe(0);

    const first = new BatchCollector();
    const second = new BatchCollector();
    const endFirst = await events.subscribe('tx-numsub', first);
    const endSecond = await events.subscribe('tx-numsub', second);
    expect(await numsub()).toBe(1);

    endFirst();
    const room = await RoomDriver.open(store, 'tx-numsub');
    const batch = { epoch: room.room.epoch, events: await room.join('u1') };
    expect(await second.until(1)).toEqual([batch]);
    expect(first.batches).toEqual([]);
    expect(await numsub()).toBe(1);

    endSecond();
    await eventually(async () => expect(await numsub()).toBe(0), 5000);
  });

  it('subscribes two listeners at once with one Redis subscription', async () => {
    const { events, client, keys, store } = await make();
    const channel = keys.channel('tx-numsub-2');
    const first = new BatchCollector();
    const second = new BatchCollector();
    const [endFirst, endSecond] = await Promise.all([
      events.subscribe('tx-numsub-2', first),
      events.subscribe('tx-numsub-2', second),
    ]);
    expect(((await client.pubsub('NUMSUB', channel)) as [string, number])[1]).toBe(1);
    const room = await RoomDriver.open(store, 'tx-numsub-2');
    const batch = { epoch: room.room.epoch, events: await room.join('u1') };
    expect(await first.until(1)).toEqual([batch]);
    expect(await second.until(1)).toEqual([batch]);
    endFirst();
    endSecond();
    await eventually(async () => expect(((await client.pubsub('NUMSUB', channel)) as [string, number])[1]).toBe(0), 5000);
  });

  it('a room left and subscribed again at once keeps its channel: the UNSUBSCRIBE is ordered before the new SUBSCRIBE', async () => {
    const { events, client, keys, store } = await make();
    const channel = keys.channel('tx-again');
    const numsub = async () => Number(((await client.pubsub('NUMSUB', channel)) as [string, number])[1]);
    for (let i = 0; i < 20; i++) {
      const end = await events.subscribe('tx-again', new BatchCollector());
      end();
    }
    // Left while its SUBSCRIBE was still on its way, then joined again.
    const pending = events.subscribe('tx-again', new BatchCollector());
    (await pending)();
    const listener = new BatchCollector();
    const [endA] = await Promise.all([events.subscribe('tx-again', listener), events.subscribe('tx-again', new BatchCollector()).then((end) => end())]);
    expect(await numsub()).toBe(1);
    const room = await RoomDriver.open(store, 'tx-again');
    const batch = { epoch: room.room.epoch, events: await room.join('u1') };
    expect(await listener.until(1)).toEqual([batch]);
    endA();
    await eventually(async () => expect(await numsub()).toBe(0), 5000);
  });

  it('delivers batches committed by another instance', async () => {
    const one = await make();
    // A second instance: clients of its own, the same keys.
    const other = await make();
    const twin = new RedisRoomStore({ client: other.client, keys: one.keys, ...contractStoreOptions, timeoutMs: STORE_TIMEOUT_MS });
    const listener = new BatchCollector();
    await one.events.subscribe('tx-cross', listener);
    const room = await RoomDriver.open(twin, 'tx-cross');
    const batch = { epoch: room.room.epoch, events: await room.join('u1') };
    expect(await listener.until(1)).toEqual([batch]);
    expect(await one.store.load('tx-cross')).toEqual({ room: room.room, revision: 1, requestDone: false });
  });

  describe('a lost connection to the bus', () => {
    let server: RedisProcess | undefined;
    afterEach(async () => {
      await server?.stop();
      server = undefined;
    });

    it('asks every listener to check its log once it is back, and delivers again', async () => {
      server = await startRedisServer();
      const { store, events } = await make({ url: server.url });
      let resyncs = 0;
      let resynced: () => void = () => undefined;
      const whenResynced = new Promise<void>((resolve) => (resynced = resolve));
      const listener = new BatchCollector();
      listener.onResync = () => {
        resyncs += 1;
        resynced();
      };
      await events.subscribe('tx-resync', listener);

      await server.stop();
      await server.restart();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        whenResynced,
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('onResync was not called within 5 s of the restart')), 5000))),
      ]).finally(() => clearTimeout(timer));
      expect(resyncs).toBe(1);

      const room = await eventually(() => RoomDriver.open(store, 'tx-resync'), 10_000, 100);
      const batch = { epoch: room.room.epoch, events: await room.join('u1') };
      expect(await listener.until(1)).toEqual([batch]);
    });
  });

  describe('STORE_UNAVAILABLE', () => {
    let server: RedisProcess | undefined;
    afterEach(async () => {
      await server?.stop();
      server = undefined;
    });

    it('fails load and commit fast while Redis is down, and recovers by itself when it is back', async () => {
      server = await startRedisServer();
      const { store } = await make({ url: server.url });
      const room = await RoomDriver.open(store, 'tx-down');
      await room.join('u1');

      await server.stop();

      let started = Date.now();
      const load = await store.load('tx-down').then(
        () => undefined,
        (error: unknown) => error,
      );
      let elapsed = Date.now() - started;
      expect(load).toBeInstanceOf(StoreUnavailableError);
      expect((load as StoreUnavailableError).code).toBe('STORE_UNAVAILABLE');
      expect(elapsed).toBeLessThan(2000);

      const next = room.decide('u1', { kind: 'select', field: 'price', value: '1' });
      started = Date.now();
      const commit = await store.commit({ transactionId: 'tx-down', baseRevision: 1, room: next.room, events: next.events }).then(
        () => undefined,
        (error: unknown) => error,
      );
      elapsed = Date.now() - started;
      expect(commit).toBeInstanceOf(StoreUnavailableError);
      expect((commit as StoreUnavailableError).code).toBe('STORE_UNAVAILABLE');
      expect(elapsed).toBeLessThan(2000);

      started = Date.now();
      const read = await store.readSince('tx-down', 0).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(read).toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(2000);

      // Back, empty (the restarted server kept nothing): the same store works again without help.
      await server.restart();
      const loaded = await eventually(() => store.load('tx-down'), 10_000, 100);
      expect(loaded.revision).toBe(0);
      expect(loaded.requestDone).toBe(false);
      const again = await RoomDriver.open(store, 'tx-down');
      await again.join('u1');
      expect(await store.load('tx-down')).toEqual({ room: again.room, revision: 1, requestDone: false });
    });

    it('a commit that reaches Redis after its caller gave up writes nothing', async () => {
      server = await startRedisServer();
      const { store, keys } = await make({ url: server.url });
      const room = await RoomDriver.open(store, 'tx-late');
      await room.join('u1');
      // Writes wait in Redis for 2.5 s: longer than the client waits (1.5 s).
      const admin = new Redis(server.url);
      await admin.call('CLIENT', 'PAUSE', '2500', 'WRITE');
      const pausedAt = Date.now();
      const next = room.decide('u1', { kind: 'select', field: 'price', value: '1' });
      const started = Date.now();
      const commit = await store.commit({ transactionId: 'tx-late', baseRevision: 1, room: next.room, events: next.events }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(commit).toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(2000);
      // Once the pause is over the script runs, sees its deadline has passed, and writes nothing.
      await new Promise((resolve) => setTimeout(resolve, 2500 - (Date.now() - pausedAt) + 300));
      const after = await store.load('tx-late');
      expect(after.revision).toBe(1);
      expect(after.room.version).toBe(1);
      expect(await admin.xlen(keys.log('tx-late'))).toBe(1);
      admin.disconnect();
    });
  });
});
