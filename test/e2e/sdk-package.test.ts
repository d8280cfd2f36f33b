/**
 * The SDK as an app gets it: `npm pack`, unpacked into an app's node_modules, imported as
 * `conflict-rooms/sdk` (compiled JavaScript and types, no TypeScript sources), bundled for a browser
 * without any server code.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../utils/server.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
// Inside the project, so that the app finds the package's dependencies in the project's node_modules.
const work = join(root, 'test', '.tmp', `sdk-package-${process.pid}`);
const app = join(work, 'app');

let server: TestServer;
beforeAll(async () => {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(app, 'node_modules', 'conflict-rooms'), { recursive: true });
  await run('npm', ['pack', '--silent', '--pack-destination', work], { cwd: root, timeout: 120_000 });
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
  await run('tar', ['-xzf', join(work, tarball), '-C', join(app, 'node_modules', 'conflict-rooms'), '--strip-components=1']);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
  server = await startServer();
}, 180_000);
afterAll(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

const consumer = `
import WebSocket from 'ws';
import { createRoomClient, ConflictRoomDocument } from 'conflict-rooms/sdk';
const rooms = createRoomClient({ url: process.env.URL, webSocketImpl: WebSocket, connectionParams: { userId: 'app-user', userName: 'App' } });
const room = await rooms.joinRoom('pkg-1');
await room.select('price', '45000');
console.log(JSON.stringify({ version: room.state.version, selections: room.state.selections.map((s) => [s.field, s.value]), query: ConflictRoomDocument.kind }));
room.close();
await rooms.dispose();
`;

describe('the SDK package', () => {
  it('ships compiled JavaScript with types, and no TypeScript sources of the SDK entry', async () => {
    const files = readdirSync(join(app, 'node_modules', 'conflict-rooms', 'dist', 'sdk'));
    expect(files).toEqual(expect.arrayContaining(['index.js', 'index.d.ts', 'room-client.js', 'apply-event.js', 'webhook.js', 'webhook.d.ts', 'generated']));
  });

  it('imports as conflict-rooms/sdk in a Node app and works against the server', async () => {
    writeFileSync(join(app, 'consumer.mjs'), consumer);
    const { stdout } = await run(process.execPath, ['consumer.mjs'], { cwd: app, env: { ...process.env, URL: server.wsUrl }, timeout: 20_000 });
    const out = JSON.parse(stdout) as { version: number; selections: string[][]; query: string };
    // The client's own subscription makes it online (one more version) before or after its select.
    expect([2, 3]).toContain(out.version);
    expect(out).toEqual({ version: out.version, selections: [['price', '45000']], query: 'Document' });
  });

  it('type-checks in a TypeScript app through the package exports', async () => {
    writeFileSync(
      join(app, 'typed.ts'),
      `import { createRoomClient, type Room, type ConflictRoomQuery } from 'conflict-rooms/sdk';
const rooms = createRoomClient({ url: 'ws://127.0.0.1:1/graphql' });
export async function price(): Promise<string | undefined> {
  const room = await rooms.joinRoom('tx');
  const state: Room = room.state;
  const fromQuery: ConflictRoomQuery['conflictRoom']['version'] = state.version;
  void fromQuery;
  return state.selections.find((s) => s.field === 'price')?.value;
}
`,
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--lib', 'es2023,dom', '--skipLibCheck', 'typed.ts'], { cwd: app }).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    );
    expect(result).toBe('');
  });

  it('gives receivers verifyResolutionWebhook at conflict-rooms/sdk/webhook', async () => {
    writeFileSync(
      join(app, 'receiver.mjs'),
      `import { Webhook } from 'standardwebhooks';
import { verifyResolutionWebhook, digestMatches } from 'conflict-rooms/sdk/webhook';
const secret = 'whsec_' + Buffer.from('package test secret').toString('base64');
const body = JSON.stringify({ type: 'conflictRoom.resolved', timestamp: 't', data: { transactionId: 'tx-42', epoch: 'e1', version: 9, resolvedAt: '2026-12-02T10:00:00.000Z', digest: '4f8b314bc7a852964be8efc16dea5c5858cc0ebd848af2cbdd87e2eb3ed43fea', selections: [{ field: 'condition', value: 'Like New', userId: 'alice' }, { field: 'price', value: '45 000 ₱ "firm"', userId: 'bob' }], participants: [{ userId: 'alice' }, { userId: 'bob' }] } });
const now = new Date();
const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(now / 1000)), 'webhook-signature': new Webhook(secret).sign('msg_1', now, body) };
const event = verifyResolutionWebhook(body, headers, secret);
console.log(JSON.stringify({ version: event.data.version, digestMatches: await digestMatches(event) }));
`,
    );
    const { stdout } = await run(process.execPath, ['receiver.mjs'], { cwd: app, timeout: 20_000 });
    expect(JSON.parse(stdout)).toEqual({ version: 9, digestMatches: true });
  });

  it('bundles for a browser without any server code', async () => {
    writeFileSync(join(app, 'browser.mjs'), `import { createRoomClient } from 'conflict-rooms/sdk';\nwindow.rooms = createRoomClient({ url: 'ws://localhost:4000/graphql' });\n`);
    const result = await build({ entryPoints: [join(app, 'browser.mjs')], bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((f) => f.includes('conflict-rooms/dist/sdk/room-client.js'))).toBe(true);
    // The webhook helper (and its signature code) is an entry of its own, not in the browser's.
    const server = inputs.filter((f) => /ioredis|graphql-yoga|@pothos|pino|graphql-redis-subscriptions|standardwebhooks|\/src\/|node:/.test(f));
    expect(server).toEqual([]);
  });
});
