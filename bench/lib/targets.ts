/** The servers the scenarios run against, and how to start, probe and clean up each. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { freePort, type ServerProcess, startServer } from './children.js';

export type TargetName = 'ws' | 'service' | 'socketio' | 'socketio-plain';

/** Every target, in the order of the report's columns. */
export const TARGETS: TargetName[] = ['ws', 'service', 'socketio', 'socketio-plain'];

/**
 * The targets every scenario runs when --targets is not given; a scenario adds others through its
 * `extraTargets` (socketio-plain runs by default only in throughput and rooms-5000).
 */
export const DEFAULT_TARGETS: TargetName[] = ['ws', 'service', 'socketio'];

export const LABELS: Record<TargetName, string> = {
  ws: 'bare ws (floor)',
  service: 'conflict-rooms + Redis',
  socketio: 'Socket.IO + Redis',
  'socketio-plain': 'plain Socket.IO + Redis (HSET + emit)',
};

export const REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface RunningTarget {
  name: TargetName;
  server: ServerProcess;
  /** Redis key prefix of this start (deleted at stop), or null for bare ws. */
  prefix: string | null;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Extra node flags for the server process (e.g. --cpu-prof). */
  nodeFlags?: string[];
  env?: Record<string, string>;
  /** Signal used to stop (SIGINT lets conflict-rooms exit through its own shutdown, which writes a --cpu-prof profile). */
  stopSignal?: NodeJS.Signals;
}

/** Deletes every key under `prefix` (and only those), SCAN + UNLINK. */
export async function deletePrefix(prefix: string): Promise<number> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 2 });
  let deleted = 0;
  try {
    await redis.connect();
    let cursor = '0';
    for (let round = 0; round < 100_000; round++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) deleted += await redis.unlink(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    redis.disconnect();
  }
  return deleted;
}

export async function startTarget(name: TargetName, options: StartOptions = {}): Promise<RunningTarget> {
  const port = await freePort();
  const prefix = name === 'ws' ? null : `bench:${randomBytes(4).toString('hex')}:`;
  const common = { PORT: String(port), HOST: '127.0.0.1', ...options.env };
  let server: ServerProcess;
  switch (name) {
    case 'service':
      server = await startServer({
        script: 'src/main.ts',
        port,
        nodeFlags: options.nodeFlags,
        env: {
          ...common,
          REDIS_URL,
          REDIS_KEY_PREFIX: prefix!,
          RATE_LIMIT_PER_SECOND: '0',
          LOG_LEVEL: 'warn',
          ...options.env,
        },
        readyPath: '/health',
        readyHeaders: { accept: 'application/json', 'x-user-id': 'bench-probe' },
      });
      break;
    case 'ws':
      server = await startServer({ script: 'bench/servers/ws-server.ts', port, nodeFlags: options.nodeFlags, env: common, readyPath: '/health' });
      break;
    case 'socketio':
    case 'socketio-plain':
      // The same server; SOCKETIO_PLAIN=1 makes a select one HSET + emit (see the server's header).
      server = await startServer({
        script: 'bench/servers/socketio-server.ts',
        port,
        nodeFlags: options.nodeFlags,
        env: { ...common, REDIS_URL, KEY_PREFIX: prefix!, SOCKETIO_PLAIN: name === 'socketio-plain' ? '1' : '0' },
        readyPath: '/health',
      });
      break;
  }
  return {
    name,
    server,
    prefix,
    async stop() {
      await server.stop(options.stopSignal);
      if (prefix) await deletePrefix(prefix);
    },
  };
}
