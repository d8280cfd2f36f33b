/**
 * Processes a standalone bench script (idle-start, soak) starts: each is remembered until it exits, so
 * that the script stops every one of them, on success, on error and on SIGINT/SIGTERM.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { repoRoot } from './children.js';

export interface Tracked {
  child: ChildProcess;
  /** The last 8 KB it printed. */
  output(): string;
  /** Resolves to the exit code (null after a signal) when it exits. */
  exited: Promise<number | null>;
}

const live = new Set<Tracked>();

/** Spawns `command args` in the repository with PATH and `env` only; stdout and stderr are kept. */
export function spawnTracked(command: string, args: string[], env: Record<string, string>): Tracked {
  const child = spawn(command, args, { cwd: repoRoot, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-8192));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(null));
    child.once('exit', (code) => resolve(code));
  });
  const tracked: Tracked = { child, output: () => tail, exited };
  live.add(tracked);
  void exited.then(() => live.delete(tracked));
  return tracked;
}

/** Sends `signal`, then SIGKILL after graceMs; resolves to the exit code. */
export async function stopTracked(tracked: Tracked, signal: NodeJS.Signals, graceMs: number): Promise<number | null> {
  const { child } = tracked;
  if (child.exitCode === null && child.signalCode === null) {
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await tracked.exited;
    clearTimeout(timer);
  }
  return tracked.exited;
}

/** Kills whatever is still running (errors and signals). */
export async function stopAllTracked(): Promise<void> {
  await Promise.all([...live].map((t) => stopTracked(t, 'SIGKILL', 2000)));
}

/** Stops everything on SIGINT/SIGTERM, then exits 130. */
export function stopAllOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void stopAllTracked().finally(() => process.exit(130));
    });
  }
}
