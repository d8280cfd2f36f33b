/**
 * The production process: `npm run build`'s bundle (scripts/build.mjs), built to a temporary directory
 * with no node_modules anywhere above it, run as `node <dir>/main.js` (what the Docker image runs). It
 * answers queries and mutations in the production configuration (jwt) and on Redis, serves GraphiQL from
 * its lazily loaded chunk, and exits 0 on SIGTERM.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { hs256, testSecret } from '../utils/jwt.js';
import { deleteUnder, keysUnder } from '../utils/redis-server.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const redisUrl = inject('redisUrl');
let dir: string;

function startBundle(env: Record<string, string>) {
  const child: ChildProcess = spawn(process.execPath, [join(dir, 'main.js')], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = (async () => {
    const deadline = Date.now() + 15_000;
    let match: RegExpExecArray | null;
    while (!(match = /GraphQL endpoint: (http:\/\/\S+)/.exec(output))) {
      if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}:\n${output}`);
      if (Date.now() > deadline) throw new Error(`did not listen within 15 s:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return match[1]!;
  })();
  return { child, exited, url, output: () => output, kill: () => child.exitCode === null && child.kill('SIGKILL') };
}

async function post(url: string, query: string, variables: Record<string, unknown>, headers: Record<string, string>) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
  return { status: response.status, body: (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] } };
}

const JOIN = `mutation Join($tx: ID!, $name: String) { joinConflictRoom(transactionId: $tx, userName: $name) { version participants { userId name } } }`;
const SELECT = `mutation Select($tx: ID!) { selectField(transactionId: $tx, field: "price", value: "45000") { version selections { field value userId } } }`;
const ROOM = `query Room($tx: ID!) { conflictRoom(transactionId: $tx) { version status selections { field value userName } participants { userId name isReady } } }`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cr-build-'));
  await promisify(execFile)(process.execPath, ['scripts/build.mjs', '--outdir', dir], { cwd: root, timeout: 60_000 });
}, 90_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the production build (node dist/main.js)', () => {
  it('is a bundle that needs no node_modules: none is reachable from where it runs', () => {
    expect(readdirSync(dir).sort()).toEqual(['chunks', 'cli', 'main.js', 'main.js.map', 'package.json']);
    const ancestors: string[] = [];
    for (let d = dir; ; d = dirname(d)) {
      ancestors.push(d);
      if (dirname(d) === d) break;
    }
    expect(ancestors.filter((d) => existsSync(join(d, 'node_modules')))).toEqual([]);
  });

  it('answers in production (NODE_ENV=production, jwt) and exits 0 on SIGTERM', async () => {
    const server = startBundle({ NODE_ENV: 'production', AUTH_MODE: 'jwt', JWT_SECRET: testSecret });
    try {
      const url = await server.url;
      expect(server.output()).toMatch(/embedded in-memory store/);
      // What the image's HEALTHCHECK and the load balancer ask.
      const probes = await Promise.all(['/health', '/ready'].map(async (path) => (await fetch(new URL(path, url))).status));
      expect(probes).toEqual([200, 200]);
      const get = await fetch(`${url}?query=%7B__typename%7D`, { headers: { 'x-graphql-yoga-csrf': '1' } });
      expect([get.status, await get.json()]).toEqual([200, { data: { __typename: 'Query' } }]);
      const auth = { authorization: `Bearer ${await hs256({ sub: 'alice', name: 'Alice', transactions: ['tx-build'] })}` };
      expect(await post(url, JOIN, { tx: 'tx-build', name: 'Alice' }, auth)).toEqual({
        status: 200,
        body: { data: { joinConflictRoom: { version: 1, participants: [{ userId: 'alice', name: 'Alice' }] } } },
      });
      expect(await post(url, SELECT, { tx: 'tx-build' }, auth)).toEqual({
        status: 200,
        body: { data: { selectField: { version: 2, selections: [{ field: 'price', value: '45000', userId: 'alice' }] } } },
      });
      // A query runs compiled by graphql-jit, loaded from its chunk on this first use.
      expect(await post(url, ROOM, { tx: 'tx-build' }, auth)).toEqual({
        status: 200,
        body: {
          data: {
            conflictRoom: {
              version: 2,
              status: 'OPEN',
              selections: [{ field: 'price', value: '45000', userName: 'Alice' }],
              participants: [{ userId: 'alice', name: 'Alice', isReady: false }],
            },
          },
        },
      });
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    } finally {
      server.kill();
    }
  });

  it('runs on Redis and serves GraphiQL from its lazily loaded chunk in development', async () => {
    const prefix = `test:build:${process.pid}:${Date.now()}:`;
    const server = startBundle({ REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix });
    const redis = new Redis(redisUrl);
    try {
      const url = await server.url;
      expect(server.output()).toMatch(/on the Redis store/);
      const headers = { 'x-user-id': 'bob', 'x-user-name': 'Bob' };
      expect((await post(url, JOIN, { tx: 'tx-redis', name: 'Bob' }, headers)).body).toEqual({
        data: { joinConflictRoom: { version: 1, participants: [{ userId: 'bob', name: 'Bob' }] } },
      });
      expect((await keysUnder(redis, prefix)).some((key) => key.includes('tx-redis'))).toBe(true);
      const page = await fetch(url, { headers: { accept: 'text/html' } });
      const html = await page.text();
      expect([page.status, page.headers.get('content-type'), html.includes('<title>conflict-rooms</title>')]).toEqual([200, 'text/html; charset=utf-8', true]);
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    } finally {
      server.kill();
      await deleteUnder(redis, prefix);
      redis.disconnect();
    }
  });
});
