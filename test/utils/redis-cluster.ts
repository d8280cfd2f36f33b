/**
 * A real Redis Cluster for tests: redis-server processes on free 127.0.0.1 ports in a temporary
 * directory, joined by `redis-cli --cluster create`. Every process it starts is stopped by dispose(),
 * and by the exit of the test process if a test failed before that.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, redisAnswers } from './redis-server.js';

const run = promisify(execFile);

export interface RedisClusterProcess {
  /** host:port of every node, for REDIS_CLUSTER_NODES. */
  nodes: string[];
  /** The port of the master that serves `key`'s slot now. */
  masterOf(key: string): Promise<number>;
  /** SIGKILLs one node and waits for it to exit. */
  kill(port: number): Promise<void>;
  /** Starts a node killed before on its port again, with its cluster identity (and its data when persistent). */
  restart(port: number): Promise<void>;
  /** Waits until every running node says cluster_state:ok. */
  waitOk(): Promise<void>;
  /** SIGSTOPs one node: it keeps its connections and answers nothing (a hung Redis). */
  pause(port: number): void;
  /** SIGCONTs it, and waits until every live node says cluster_state:ok. */
  resume(port: number): Promise<void>;
  /** Waits until `key`'s slot is served by a master other than `oldPort` and every live node says cluster_state:ok. */
  waitForFailover(key: string, oldPort: number, timeoutMs?: number): Promise<number>;
  /** Stops every node and removes their files. */
  dispose(): Promise<void>;
}

export interface RedisClusterOptions {
  /** Replicas per master: 1 for failover tests. Default 0. */
  replicas?: 0 | 1;
  /** cluster-node-timeout: how long a master is unreachable before a replica takes over. Default 1000 ms. */
  nodeTimeoutMs?: number;
  /** Keep each node's data across kill and restart (AOF, fsync on every write). Default false. */
  persistent?: boolean;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisClusterProcess> {
  const replicas = options.replicas ?? 0;
  const dir = mkdtempSync(join(tmpdir(), 'cr-cluster-'));
  const children = new Map<number, ChildProcess>();
  const ports: number[] = [];
  const dispose = async () => {
    await Promise.all([...children.keys()].map((port) => kill(port)));
    rmSync(dir, { recursive: true, force: true });
  };
  const kill = async (port: number) => {
    const child = children.get(port);
    children.delete(port);
    if (!child || child.exitCode !== null || child.signalCode !== null) return void (child && live.delete(child));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    live.delete(child);
  };
  // Each node has its own files in the temporary directory (nodes.conf is the node's identity).
  const persistence = (port: number) =>
    options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always', '--appenddirname', `aof-${port}`] : ['--appendonly', 'no'];
  const launch = (port: number) => {
    const child = spawn(
      'redis-server',
      [
        '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...persistence(port),
        '--dbfilename', `dump-${port}.rdb`, '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`,
        '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 1000), '--cluster-replica-validity-factor', '0',
      ],
      { stdio: 'ignore' },
    );
    children.set(port, child);
    live.add(child);
  };
  try {
    for (let i = 0; i < 3 * (1 + replicas); i++) {
      const port = await freePort();
      ports.push(port);
      launch(port);
    }
    for (const port of ports) await waitFor(() => redisAnswers(`redis://127.0.0.1:${port}`, 300), 10_000, `node ${port}`);
    const nodes = ports.map((port) => `127.0.0.1:${port}`);
    await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 30_000 });
    for (const port of ports) await waitFor(() => clusterOk(port), 20_000, `cluster_state:ok on ${port}`);
    if (replicas > 0) for (const port of ports) await waitFor(() => replicaSynced(port), 20_000, `replication on ${port}`);
    const masterOf = async (key: string) => {
      for (const port of children.keys()) {
        const found = await ask(port, async (c) => slotOwner(c, Number(await c.cluster('KEYSLOT', key)))).catch(() => null);
        if (found) return found;
      }
      throw new Error(`no live node knows the master of ${key}`);
    };
    const waitForFailover = async (key: string, oldPort: number, timeoutMs = 30_000) => {
      let master = oldPort;
      await waitFor(async () => {
        master = await masterOf(key).catch(() => oldPort);
        if (master === oldPort) return false;
        for (const port of children.keys()) if (!(await clusterOk(port))) return false;
        return true;
      }, timeoutMs, `failover of ${key} away from ${oldPort}`);
      return master;
    };
    const pause = (port: number) => void children.get(port)?.kill('SIGSTOP');
    const resume = async (port: number) => {
      children.get(port)?.kill('SIGCONT');
      for (const live of children.keys()) await waitFor(() => clusterOk(live), 20_000, `cluster_state:ok on ${live}`);
    };
    const restart = async (port: number) => {
      if (!children.has(port)) launch(port);
      await waitFor(() => redisAnswers(`redis://127.0.0.1:${port}`, 300), 10_000, `node ${port}`);
    };
    const waitOk = async () => {
      for (const port of children.keys()) await waitFor(() => clusterOk(port), 20_000, `cluster_state:ok on ${port}`);
    };
    return { nodes, masterOf, kill, restart, waitOk, pause, resume, waitForFailover, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

async function ask<T>(port: number, use: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(port, '127.0.0.1', { lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await use(client);
  } finally {
    client.disconnect();
  }
}

/** The port of the master this node believes serves `slot`, or null. */
async function slotOwner(client: Redis, slot: number): Promise<number | null> {
  const ranges = await client.cluster('SLOTS');
  const range = ranges.find(([from, to]) => slot >= from && slot <= to);
  return range?.[2] ? Number(range[2][1]) : null;
}

const clusterOk = (port: number) => ask(port, async (c) => /cluster_state:ok/.test(String(await c.cluster('INFO')))).catch(() => false);

/** A master, or a replica whose link to its master is up (its initial sync done). */
const replicaSynced = (port: number) =>
  ask(port, async (c) => {
    const info = await c.info('replication');
    return /role:master/.test(info) || /master_link_status:up/.test(info);
  }).catch(() => false);

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
