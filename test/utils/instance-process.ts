/**
 * A real instance of the service in its own process (`node --import tsx src/main.ts`), for tests that
 * kill one: SIGKILL leaves its sockets and presence behind exactly as a crashed machine would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface InstanceProcess {
  child: ChildProcess;
  /** http://127.0.0.1:port/graphql */
  url: string;
  wsUrl: string;
  /** SIGKILL, and waits for the exit. */
  kill(): Promise<void>;
  /** SIGTERM, and resolves to the exit code. */
  terminate(): Promise<number | null>;
  output(): string;
}

export async function startInstanceProcess(env: Record<string, string>, timeoutMs = 20_000): Promise<InstanceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', RATE_LIMIT_PER_SECOND: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + timeoutMs;
  let match: RegExpExecArray | null;
  while (!(match = /GraphQL endpoint: (http:\/\/\S+)/.exec(output))) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the instance exited before listening:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the instance did not listen within ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const url = match[1]!;
  return {
    child,
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    output: () => output,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    terminate: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
