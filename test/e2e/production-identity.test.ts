/** NODE_ENV=production runs only with AUTH_MODE=jwt: anything else exits 2 naming the fix; jwt mode serves tokens only. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hs256, testSecret } from '../utils/jwt.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function run(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

describe('production identity', () => {
  it('exits 2 with NODE_ENV=production and AUTH_MODE unset or dev, naming AUTH_MODE=jwt', async () => {
    const servers = [run({ NODE_ENV: 'production' }), run({ NODE_ENV: 'production', AUTH_MODE: 'dev' })];
    for (const server of servers) {
      expect(await server.exited).toBe(2);
      expect(server.output()).toMatch(/AUTH_MODE.*AUTH_MODE=jwt/);
    }
  }, 60_000);

  it('with AUTH_MODE=jwt it starts, serves a bearer token and refuses the development headers', async () => {
    const server = run({ NODE_ENV: 'production', AUTH_MODE: 'jwt', JWT_SECRET: testSecret, HOST: '127.0.0.1' });
    try {
      const deadline = Date.now() + 15_000;
      let url: string | undefined;
      while (!(url = /endpoint: (http:\/\/\S+)/.exec(server.output())?.[1])) {
        if (server.child.exitCode !== null || Date.now() > deadline) throw new Error(`did not start:\n${server.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const ask = (headers: Record<string, string>) =>
        fetch(url!, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query: 'mutation { joinConflictRoom(transactionId: "prod-1") { participants { userId } } }' }) }).then(
          (r) => r.json(),
        );
      expect(await ask({ authorization: `Bearer ${await hs256({ sub: 'prod-user', transactions: ['prod-1'] })}` })).toEqual({
        data: { joinConflictRoom: { participants: [{ userId: 'prod-user' }] } },
      });
      const devHeaders = (await ask({ 'x-user-id': 'prod-user' })) as { data: unknown; errors: Array<Record<string, unknown>> };
      expect(devHeaders.data).toBeNull();
      expect(devHeaders.errors.map(({ message, path, extensions }) => ({ message, path, extensions }))).toEqual([
        { message: 'Send a JWT: send the header Authorization: Bearer <token>.', path: ['joinConflictRoom'], extensions: { code: 'UNAUTHENTICATED' } },
      ]);
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    } finally {
      server.child.kill('SIGKILL');
    }
  }, 60_000);
});
