/** `npm start`'s process: it prints the GraphiQL address, stops on SIGTERM, and refuses a bad config. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

function run(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const printed = async (pattern: RegExp, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(output)) {
      if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}:\n${output}`);
      if (Date.now() > deadline) throw new Error(`did not print ${pattern} within ${timeoutMs} ms:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return pattern.exec(output)!;
  };
  return { child, exited, printed, output: () => output };
}

describe('the server process', () => {
  it('starts on the embedded store, prints the GraphiQL address, answers, and stops on SIGTERM', async () => {
    const server = run({ PORT: '0' });
    try {
      const [, url] = await server.printed(/GraphiQL and the GraphQL endpoint: (http:\/\/\S+)/);
      expect(server.output()).toMatch(/embedded in-memory store/);
      const response = await fetch(`${url}?query=%7B__typename%7D`, { headers: { 'x-graphql-yoga-csrf': '1' } }); // a GET needs a non-simple header (CSRF)
      expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('refuses a bad configuration with every problem named, and exit code 2', async () => {
    const server = run({ PORT: 'eighty', EVENT_LOG_LENGTH: '0' });
    expect(await server.exited).toBe(2);
    expect(server.output()).toMatch(/Invalid configuration/);
    expect(server.output()).toMatch(/PORT/);
    expect(server.output()).toMatch(/EVENT_LOG_LENGTH/);
  });

  it('a Redis that refuses its credentials stops the start (exit 1) saying why, and the password is printed nowhere', async () => {
    const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    redisUrl.username = 'no-such-user';
    redisUrl.password = 'Sekret-pw-77';
    const server = run({ PORT: '0', REDIS_URL: redisUrl.href });
    expect(await server.exited).toBe(1);
    expect(server.output()).toMatch(/conflict-rooms could not start: ReplyError: WRONGPASS/);
    expect(server.output()).not.toMatch(/Sekret-pw-77/);
  });
});
