/**
 * deploy/haproxy.cfg run for real on loopback, in front of two instances on one Redis: only the listen
 * address and the two server addresses are changed (the compose service names become 127.0.0.1 ports).
 * Queries, mutations and a graphql-ws subscription pass through it; an instance that drains (SIGTERM)
 * fails the GET /ready check and leaves the rotation, and requests meanwhile land on the other one.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, mutate, post, Subscription, wsClient } from '../utils/clients.js';
import { type InstanceProcess, startInstanceProcess } from '../utils/instance-process.js';
import { deleteUnder, freePort } from '../utils/redis-server.js';
import { testPrefix } from '../utils/server.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const haproxyBin = existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy';
const redisUrl = inject('redisUrl');
const prefix = testPrefix('haproxy');
const dir = mkdtempSync(join(tmpdir(), 'cr-haproxy-'));
let instances: InstanceProcess[] = [];
let haproxy: ChildProcess | undefined;
let haproxyOutput = '';
let url = '';

const portOf = (u: string) => Number(new URL(u).port);

/** deploy/haproxy.cfg with loopback addresses: every other line as committed. */
function loopbackConfig(listen: number, api1: number, api2: number): string {
  const cfg = readFileSync(join(root, 'deploy', 'haproxy.cfg'), 'utf8');
  const replaced = cfg
    .replace(/^(\s*)bind :4000$/m, `$1bind 127.0.0.1:${listen}`)
    .replace(/^(\s*)server api1 api1:4000 check$/m, `$1server api1 127.0.0.1:${api1} check`)
    .replace(/^(\s*)server api2 api2:4000 check$/m, `$1server api2 127.0.0.1:${api2} check`);
  expect(replaced.split('\n').filter((line, i) => line !== cfg.split('\n')[i])).toHaveLength(3);
  return replaced;
}

beforeAll(async () => {
  const env = { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix };
  instances = await Promise.all([startInstanceProcess({ ...env, INSTANCE_ID: 'hap-1' }), startInstanceProcess({ ...env, INSTANCE_ID: 'hap-2' })]);
  const listen = await freePort();
  const cfgPath = join(dir, 'haproxy.cfg');
  writeFileSync(cfgPath, loopbackConfig(listen, portOf(instances[0]!.url), portOf(instances[1]!.url)));
  haproxy = spawn(haproxyBin, ['-db', '-f', cfgPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  haproxy.stdout!.on('data', (chunk: Buffer) => (haproxyOutput += chunk.toString()));
  haproxy.stderr!.on('data', (chunk: Buffer) => (haproxyOutput += chunk.toString()));
  url = `http://127.0.0.1:${listen}/graphql`;
  await eventually(async () => (await fetch(`http://127.0.0.1:${listen}/ready`).catch(() => null))?.status === 200, 10_000, 'HAProxy answering GET /ready');
}, 60_000);

afterAll(async () => {
  if (haproxy && haproxy.exitCode === null) {
    const exited = new Promise((resolve) => haproxy!.once('exit', resolve));
    haproxy.kill('SIGTERM');
    await exited;
  }
  await Promise.all(instances.map((i) => i.kill()));
  const redis = new Redis(redisUrl);
  await deleteUnder(redis, prefix);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

const alice = { userId: 'alice', userName: 'Alice' };
const SELECT = 'mutation ($tx: ID!, $v: String!) { selectField(transactionId: $tx, field: "price", value: $v) { version } }';

describe('deploy/haproxy.cfg in front of two instances', () => {
  it('passes HTTP and a graphql-ws subscription through, both ways', async () => {
    expect(await mutate(url, alice, 'mutation { joinConflictRoom(transactionId: "tx-hap") { version } }')).toEqual({ joinConflictRoom: { version: 1 } });
    const client = wsClient(url.replace(/^http/, 'ws'), alice);
    try {
      const events = new Subscription(client, 'subscription { conflictRoomEvents(transactionId: "tx-hap", afterVersion: 1) { __typename version } }');
      // Alice's subscription makes her online (version 2); then her selection (version 3).
      expect(await events.take(1)).toEqual([{ conflictRoomEvents: { __typename: 'PresenceChanged', version: 2 } }]);
      expect(await mutate(url, alice, SELECT, { tx: 'tx-hap', v: '100' })).toEqual({ selectField: { version: 3 } });
      expect(await events.take(1)).toEqual([{ conflictRoomEvents: { __typename: 'FieldSelected', version: 3 } }]);
      events.unsubscribe();
    } finally {
      await client.dispose();
    }
  });

  it('does not serve /metrics to the outside (the instances do, on their own addresses)', async () => {
    expect((await fetch(url.replace(/\/graphql$/, '/metrics'))).status).toBe(404);
    expect((await fetch(instances[0]!.url.replace(/\/graphql$/, '/metrics'))).status).toBe(200);
  });

  it('takes a draining instance out of rotation (GET /ready) and serves every request from the other', async () => {
    const [first] = instances as [InstanceProcess, InstanceProcess];
    expect(await first.terminate()).toBe(0);
    await eventually(() => /Server api\/api1 is DOWN/.test(haproxyOutput), 10_000, 'HAProxy marking api1 DOWN');
    // No subscription is open any more, so only these selections change the room.
    const before = await mutate<{ conflictRoom: { version: number } }>(url, alice, 'query { conflictRoom(transactionId: "tx-hap") { version } }');
    for (let i = 1; i <= 6; i++) {
      const result = await post(url, alice, SELECT, { tx: 'tx-hap', v: `v${i}` });
      expect(result).toEqual({ data: { selectField: { version: before.conflictRoom.version + i } } });
    }
  });
});
