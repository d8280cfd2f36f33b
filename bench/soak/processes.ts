/**
 * The soak's processes on loopback: one redis-server with AOF on (restartable on its port and data
 * directory, as a crashed Redis comes back), and service instances (`node dist/main.js`) on fixed ports
 * that can be stopped with SIGTERM and started again. Every one goes through bench/lib/tracked.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisAnswers } from '../../test/utils/redis-server.js';
import { freePort, sleep } from '../lib/children.js';
import { spawnTracked, stopTracked, type Tracked } from '../lib/tracked.js';

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>, proc?: Tracked): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (proc && proc.child.exitCode !== null) throw new Error(`${what}: exited (${proc.child.exitCode}) before it was up:\n${proc.output()}`);
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not up within ${timeoutMs} ms${proc ? `:\n${proc.output()}` : ''}`);
    await sleep(25);
  }
  return Date.now() - started;
}

export class SoakRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'cr-soak-redis-'));
  private proc: Tracked | undefined;
  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<SoakRedis> {
    const redis = new SoakRedis(await freePort());
    await redis.launch();
    return redis;
  }

  /** Starts redis-server on its port and directory; it loads the AOF that is there. Resolves when PING answers. */
  async launch(): Promise<number> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec'];
    this.proc = spawnTracked('redis-server', args, {});
    return until(`redis-server on ${this.port}`, 15_000, () => this.pings(), this.proc);
  }

  /** SIGKILL, as a crash: nothing is flushed on the way out. */
  async kill(): Promise<void> {
    if (this.proc) await stopTracked(this.proc, 'SIGKILL', 1000);
  }

  pings(): Promise<boolean> {
    return redisAnswers(this.url, 300);
  }

  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class SoakInstance {
  private proc: Tracked | undefined;
  constructor(
    readonly name: string,
    readonly port: number,
    private readonly script: string,
    private readonly env: Record<string, string>,
  ) {}

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}/graphql`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/graphql`;
  }

  /** Starts the process; resolves with the ms from spawn to the first 200 of { __typename }. */
  async start(): Promise<number> {
    this.proc = spawnTracked(process.execPath, [this.script], {
      ...this.env,
      PORT: String(this.port),
      HOST: '127.0.0.1',
      INSTANCE_ID: this.name,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_SECOND: '0',
    });
    return until(`instance ${this.name}`, 20_000, () => this.answers(), this.proc);
  }

  /** SIGTERM, and the exit code (SIGKILL after 20 s). */
  async stop(): Promise<number | null> {
    return this.proc ? stopTracked(this.proc, 'SIGTERM', 20_000) : null;
  }

  output(): string {
    return this.proc?.output() ?? '';
  }

  private async answers(): Promise<boolean> {
    try {
      const response = await fetch(`${this.httpUrl}?query=%7B__typename%7D`, { headers: { 'x-graphql-yoga-csrf': '1' }, signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      return response.status === 200;
    } catch {
      return false;
    }
  }
}
