/**
 * Every process the orchestrator starts goes through here, so that it can stop all of them: on
 * success, on error and on SIGINT/SIGTERM. Servers are spawned as `node [flags] --import tsx <file>`
 * (the pid we hold is the server's own); load generators are forked with an IPC channel.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { cpuMicros } from './proc.js';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const benchDir = fileURLToPath(new URL('..', import.meta.url));

const live = new Set<ChildProcess>();

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A free TCP port on loopback (bound and released; the server binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** SIGTERM (or `signal`), then SIGKILL after graceMs. */
export async function stopChild(child: ChildProcess, graceMs = 8000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill(signal);
    if (!(await waitExit(child, graceMs))) {
      child.kill('SIGKILL');
      await waitExit(child, 2000);
    }
  }
  live.delete(child);
}

/** Stops every child still running (used on errors and signals). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((child) => stopChild(child, 3000)));
}

export interface ServerProcess {
  pid: number;
  port: number;
  child: ChildProcess;
  /** Last lines the server printed (for error messages). */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface ServerLaunch {
  /** Script path relative to the repository root. */
  script: string;
  env: Record<string, string>;
  nodeFlags?: string[];
  /** Path polled with GET until it answers 2xx. */
  readyPath: string;
  readyHeaders?: Record<string, string>;
  port: number;
}

function httpStatus(port: number, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', headers, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => {
      req.destroy();
      resolve(0);
    });
    req.end();
  });
}

export async function startServer(launch: ServerLaunch, timeoutMs = 30_000): Promise<ServerProcess> {
  // BENCH_NODE_FLAGS: node flags given to every target alike (e.g. GC tuning), so comparisons stay fair.
  const common = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...common, ...(launch.nodeFlags ?? []), '--import', 'tsx', launch.script], {
    cwd: repoRoot,
    env: { ...process.env, ...launch.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const server: ServerProcess = {
    pid: child.pid!,
    port: launch.port,
    child,
    output: () => tail,
    stop: (signal) => stopChild(child, 10_000, signal),
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      live.delete(child);
      throw new Error(`${launch.script} exited (${child.exitCode ?? child.signalCode}) before answering:\n${tail}`);
    }
    const status = await httpStatus(launch.port, launch.readyPath, launch.readyHeaders ?? {});
    if (status >= 200 && status < 300) return server;
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`${launch.script} did not answer on port ${launch.port} within ${timeoutMs} ms:\n${tail}`);
    }
    await sleep(100);
  }
}

/** A load generator: a forked `bench/load/<name>.ts` that answers commands over IPC. */
export class LoadProcess {
  readonly child: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  private exited = false;

  constructor(
    readonly file: string,
    readonly label: string,
  ) {
    this.child = fork(file, [], {
      cwd: repoRoot,
      execArgv: ['--import', 'tsx'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, NODE_OPTIONS: '', BENCH_LOAD_LABEL: label },
    });
    live.add(this.child);
    this.child.on('message', (message: { id: number; ok: boolean; result?: unknown; error?: string }) => {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      clearTimeout(waiter.timer);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`${label}: ${message.error}`));
    });
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      live.delete(this.child);
      for (const [, waiter] of this.pending) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error(`${label} exited (${code ?? signal})`));
      }
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  cpuUs(): number {
    return cpuMicros(this.pid);
  }

  /** Sends a command; rejects if no answer within timeoutMs. */
  call<T = unknown>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.label} is not running`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.label}: no answer to ${cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.send({ id, cmd, args });
    });
  }

  async stop(): Promise<void> {
    if (!this.exited) {
      try {
        await this.call('exit', {}, 5000);
      } catch {
        /* it may exit before answering */
      }
    }
    await stopChild(this.child, 3000);
  }
}
