/**
 * Heavy code loads only when first used: graphql-jit on the first query it compiles, GraphiQL's 9 MB
 * renderer on the first request for the page. A module resolve hook in the server's process writes every
 * module it resolves from either package to stderr, so the test sees exactly when each one loads.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

// Runs on the loader's thread: fd 2 is the process's stderr.
const hooks = `
import { writeSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  const m = /(graphql-jit|render-graphiql)/.exec(result.url);
  if (m) writeSync(2, 'LOADED ' + m[1] + '\\n');
  return result;
}`;
const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;

describe('lazy loading', () => {
  it('loads graphql-jit at the first query and the GraphiQL renderer at the first page request, not at start', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', `data:text/javascript,${encodeURIComponent(register)}`, 'src/main.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const loaded = () => [...new Set(output.match(/LOADED \S+/g) ?? [])];
    try {
      const deadline = Date.now() + 15_000;
      let match: RegExpExecArray | null;
      while (!(match = /GraphQL endpoint: (http:\/\/\S+)/.exec(output))) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`did not start:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const url = match[1]!;
      expect(loaded()).toEqual([]);

      const response = await fetch(`${url}?query=%7B__typename%7D`, { headers: { 'x-graphql-yoga-csrf': '1' } });
      expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
      expect(loaded()).toEqual(['LOADED graphql-jit']);

      const page = await fetch(url, { headers: { accept: 'text/html' } });
      expect([page.status, (await page.text()).includes('<title>conflict-rooms</title>')]).toEqual([200, true]);
      expect(loaded()).toEqual(['LOADED graphql-jit', 'LOADED render-graphiql']);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
