/**
 * The operations endpoints on a real server: /health, /ready following a real redis-server that is
 * killed and started again, /metrics with exact names and labels after known operations, request ids.
 */
import { describe, expect, inject, it } from 'vitest';
import { eventually, mutate, post, Subscription, wsClient } from '../utils/clients.js';
import { EVENTS, type EventsResult, JOIN, SELECT } from '../utils/operations.js';
import { startInstanceProcess } from '../utils/instance-process.js';
import { startRedisServer } from '../utils/redis-server.js';
import { deletePrefix, serverBase, startServer, testPrefix } from '../utils/server.js';
import { cleanupsAfterEach } from '../utils/cleanups.js';

const alice = { userId: 'alice', userName: 'Alice' };
const bob = { userId: 'bob', userName: 'Bob' };

const cleanups = cleanupsAfterEach();


async function get(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

describe('GET /health and /ready', () => {
  it('answer 200 on the embedded store, with a request id (a sane incoming one is kept, another replaced)', async () => {
    const server = await startServer();
    cleanups.push(() => server.stop());
    const health = await get(`${serverBase(server.url)}/health`, { 'x-request-id': 'probe-1' });
    expect([health.status, health.body, health.headers.get('x-request-id')]).toEqual([200, '{"status":"ok"}', 'probe-1']);
    const ready = await get(`${serverBase(server.url)}/ready`, { 'x-request-id': 'x'.repeat(129) });
    expect([ready.status, ready.body]).toEqual([200, '{"status":"ready"}']);
    expect(ready.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const graphql = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': 'alice', 'x-request-id': 'has space' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(graphql.status).toBe(200);
    expect(graphql.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('/ready turns 503 within 5 s of losing Redis and 200 within 10 s of its return; /health stays 200', async () => {
    const redis = await startRedisServer();
    cleanups.push(() => redis.dispose());
    const server = await startServer({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: testPrefix('ready') });
    cleanups.push(() => server.stop());
    const ready = () => get(`${serverBase(server.url)}/ready`);
    expect(await ready()).toMatchObject({ status: 200, body: '{"status":"ready"}' });

    await redis.stop();
    const lost = Date.now();
    await eventually(async () => (await ready()).status === 503, 5000, '/ready 503 after Redis died');
    const lostMs = Date.now() - lost;
    expect(await ready()).toMatchObject({ status: 503, body: '{"status":"store unavailable"}' });
    expect((await get(`${serverBase(server.url)}/health`)).status).toBe(200);

    await redis.restart();
    const back = Date.now();
    await eventually(async () => (await ready()).status === 200, 10_000, '/ready 200 after Redis returned');
    const backMs = Date.now() - back;
    expect(await ready()).toMatchObject({ status: 200, body: '{"status":"ready"}' });
    console.log(`/ready: 503 ${lostMs} ms after Redis died, 200 ${backMs} ms after it returned`);
  });
});

/** The samples of one metric family, "name{labels} value" per line, sorted. */
function samples(text: string, name: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .sort();
}

describe('GET /metrics', () => {
  it('counts operations by name and outcome, errors by contract code, connections, subscriptions, fan-out, commits, Redis commands', async () => {
    const redisUrl = inject('redisUrl');
    const prefix = testPrefix('metrics');
    cleanups.push(() => deletePrefix(redisUrl, prefix));
    const server = await startServer({ REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix });
    cleanups.push(() => server.stop());
    const tx = 'metrics-1';

    await mutate(server.url, alice, JOIN, { tx });
    const refused = await post(server.url, bob, SELECT, { tx, field: 'price', value: '1' });
    expect(refused.errors?.[0]?.extensions?.['code']).toBe('NOT_A_PARTICIPANT');
    const client = wsClient(server.wsUrl, alice);
    cleanups.push(async () => client.dispose());
    const sub = new Subscription<EventsResult>(client, EVENTS, { tx, after: 1 });
    // Presence: alice's subscription makes her online (version 2).
    expect((await sub.take(1))[0]!.conflictRoomEvents.__typename).toBe('PresenceChanged');
    await mutate(server.url, alice, SELECT, { tx, field: 'price', value: '45000' });
    expect((await sub.take(1))[0]!.conflictRoomEvents.__typename).toBe('FieldSelected');

    const response = await fetch(`${serverBase(server.url)}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();

    expect(samples(text, 'conflict_rooms_operations_total')).toEqual([
      'conflict_rooms_operations_total{operation_name="Join",operation_type="mutation",outcome="ok"} 1',
      'conflict_rooms_operations_total{operation_name="Select",operation_type="mutation",outcome="NOT_A_PARTICIPANT"} 1',
      'conflict_rooms_operations_total{operation_name="Select",operation_type="mutation",outcome="ok"} 1',
    ]);
    expect(samples(text, 'graphql_envelop_error_result')).toEqual([
      'graphql_envelop_error_result{operationName="Select",operationType="mutation",phase="execute",code="NOT_A_PARTICIPANT"} 1',
    ]);
    expect(samples(text, 'graphql_envelop_request')).toEqual([
      'graphql_envelop_request{operationName="Join",operationType="mutation"} 1',
      'graphql_envelop_request{operationName="Select",operationType="mutation"} 2',
    ]);
    expect(samples(text, 'graphql_yoga_http_duration_count')).toEqual([
      'graphql_yoga_http_duration_count{operationName="Join",operationType="mutation",method="POST",statusCode="200"} 1',
      'graphql_yoga_http_duration_count{operationName="Select",operationType="mutation",method="POST",statusCode="200"} 2',
    ]);
    expect(samples(text, 'conflict_rooms_websocket_connections')).toEqual(['conflict_rooms_websocket_connections 1']);
    expect(samples(text, 'conflict_rooms_subscriptions')).toEqual(['conflict_rooms_subscriptions 1']);
    expect(samples(text, 'conflict_rooms_sse_streams')).toEqual(['conflict_rooms_sse_streams 0']);
    expect(samples(text, 'conflict_rooms_ready')).toEqual(['conflict_rooms_ready 1']);
    expect(samples(text, 'conflict_rooms_draining')).toEqual(['conflict_rooms_draining 0']);
    // Join, presence online, select: three commits, none retried; two batches reached alice's stream here.
    expect(samples(text, 'conflict_rooms_commit_duration_seconds_count')).toEqual(['conflict_rooms_commit_duration_seconds_count{status="committed"} 3']);
    expect(samples(text, 'conflict_rooms_commit_retries_total')).toEqual(['conflict_rooms_commit_retries_total 0']);
    expect(samples(text, 'conflict_rooms_event_fanout_seconds_count')).toEqual(['conflict_rooms_event_fanout_seconds_count 2']);
    // The commit script and the readiness PING, timed through ioredis's diagnostics channel.
    expect(text).toMatch(/^conflict_rooms_redis_command_duration_seconds_count\{command="evalsha",outcome="ok"\} [1-9]\d*$/m);
    expect(text).toMatch(/^conflict_rooms_redis_command_duration_seconds_count\{command="ping",outcome="ok"\} [1-9]\d*$/m);
    for (const family of ['conflict_rooms_presence_sweeps_total', 'conflict_rooms_presence_swept_rooms_total']) {
      expect(text).toContain(`# TYPE ${family} counter`);
    }
    expect(text).toContain('# TYPE process_cpu_user_seconds_total counter');
  });

  it('counts SSE streams and presence sweeps of a dead instance', async () => {
    const redisUrl = inject('redisUrl');
    const prefix = testPrefix('metrics-sweep');
    cleanups.push(() => deletePrefix(redisUrl, prefix));
    const env = { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, PRESENCE_TIMEOUT_MS: '900' };
    const survivor = await startServer(env);
    cleanups.push(() => survivor.stop());
    const doomed = await startInstanceProcess(env);
    cleanups.push(() => doomed.kill());
    const tx = 'sweep-1';
    await mutate(survivor.url, alice, JOIN, { tx });
    const metricsText = async () => (await fetch(`${serverBase(survivor.url)}/metrics`)).text();

    // An SSE stream on the survivor: one stream, one subscription, both gone when it is aborted.
    const abort = new AbortController();
    const sse = await fetch(survivor.url, {
      method: 'POST',
      signal: abort.signal,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-user-id': 'watcher' },
      body: JSON.stringify({ query: EVENTS, variables: { tx, after: 0 } }),
    });
    expect(sse.status).toBe(200);
    const reader = sse.body!.getReader();
    let received = '';
    while (!received.includes('event: next')) received += new TextDecoder().decode((await reader.read()).value);
    let text = await metricsText();
    expect([samples(text, 'conflict_rooms_sse_streams'), samples(text, 'conflict_rooms_subscriptions')]).toEqual([
      ['conflict_rooms_sse_streams 1'],
      ['conflict_rooms_subscriptions 1'],
    ]);
    abort.abort();
    await eventually(async () => samples(await metricsText(), 'conflict_rooms_sse_streams')[0] === 'conflict_rooms_sse_streams 0', 3000, 'the SSE gauge back to 0');
    expect(samples(await metricsText(), 'conflict_rooms_subscriptions')).toEqual(['conflict_rooms_subscriptions 0']);

    // alice online through the doomed instance, which then dies: the survivor sweeps it, once.
    const client = wsClient(doomed.wsUrl, alice);
    cleanups.push(async () => client.dispose());
    const sub = new Subscription<EventsResult>(client, EVENTS, { tx, after: 1 });
    expect((await sub.take(1))[0]!.conflictRoomEvents).toMatchObject({ __typename: 'PresenceChanged', participant: { online: true } });
    await doomed.kill();
    await eventually(async () => samples(await metricsText(), 'conflict_rooms_presence_sweeps_total').length > 0, 5000, 'a sweep counted');
    text = await metricsText();
    expect(samples(text, 'conflict_rooms_presence_sweeps_total')).toEqual(['conflict_rooms_presence_sweeps_total{outcome="swept"} 1']);
    expect(samples(text, 'conflict_rooms_presence_swept_rooms_total')).toEqual(['conflict_rooms_presence_swept_rooms_total 1']);
  });

  it('METRICS_ENABLED=false: no /metrics', async () => {
    const server = await startServer({ METRICS_ENABLED: 'false' });
    cleanups.push(() => server.stop());
    const response = await get(`${serverBase(server.url)}/metrics`);
    expect(response.status).toBe(404);
    expect(response.body).not.toContain('conflict_rooms');
  });
});
