/**
 * A key set that is slow or down (JWT_JWKS_URL served from 127.0.0.1): the provider is not asked once
 * per request while it fails, the operator is told once, tokens of keys already held still verify, and
 * a socket that goes away while its token is being checked does not count against its user.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jwtAuthenticator } from '../../src/auth/jwt.js';
import { type JwksServer, signingKey, signWith, startJwksServer } from '../utils/jwt.js';
import { startServer, type TestServer } from '../utils/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const claims = (sub: string) => ({ sub, transactions: ['*'] });

let jwks: JwksServer;
beforeAll(async () => {
  jwks = await startJwksServer();
});
afterAll(async () => {
  await jwks?.stop();
});

describe('a key set that fails', () => {
  it('is asked again once per back-off, told to the operator once per failed fetch, and held keys still verify', async () => {
    const held = await signingKey('held', 'RS256');
    const unknown = await signingKey('unknown', 'RS256');
    jwks.keys.splice(0, jwks.keys.length, held.publicJwk);
    const told: unknown[] = [];
    const auth = jwtAuthenticator({ secret: null, issuer: null, audience: null, clockSkewSeconds: 0, jwksCooldownMs: 200, jwksUrl: jwks.url, onKeysUnavailable: (error) => told.push(error) });
    const check = async (token: string) => (await auth.fromHeaders(new Headers({ authorization: `Bearer ${token}` }))).failure ?? 'ok';

    expect(await check(await signWith(held, claims('a')))).toBe('ok');
    const fetchesWhenUp = jwks.fetches();
    jwks.answer.failing = true;
    await sleep(250); // past the cooldown: an unknown kid makes jose fetch the set again
    const unavailable = 'The signing keys could not be fetched to check the token; try again shortly.';
    const unknownToken = await signWith(unknown, claims('b'));
    for (let i = 0; i < 20; i++) expect(await check(unknownToken)).toBe(unavailable);
    expect(jwks.fetches() - fetchesWhenUp).toBe(1);
    expect(told).toHaveLength(1);
    // A fresh token (not remembered) signed with the key already held needs no fetch.
    expect(await check(await signWith(held, claims('c')))).toBe('ok');
    expect(jwks.fetches() - fetchesWhenUp).toBe(1);

    await sleep(250); // past the back-off: asked once more
    expect(await check(unknownToken)).toBe(unavailable);
    expect(jwks.fetches() - fetchesWhenUp).toBe(2);
    expect(told).toHaveLength(2);

    jwks.answer.failing = false;
    jwks.keys.push(unknown.publicJwk);
    await sleep(250);
    expect(await check(await signWith(unknown, claims('d')))).toBe('ok');
  });

  it('keeps verifying tokens of keys it holds once its copy of the set is old and the provider is down; a burst is told once', async () => {
    const held = await signingKey('held-stale', 'ES256');
    const unknown = await signingKey('unknown-stale', 'ES256');
    jwks.answer.failing = false;
    jwks.keys.splice(0, jwks.keys.length, held.publicJwk);
    const told: unknown[] = [];
    // The set counts as current for 200 ms here (10 min in the service), so that it goes stale in the test.
    const auth = jwtAuthenticator({
      secret: null,
      issuer: null,
      audience: null,
      clockSkewSeconds: 0,
      jwksCooldownMs: 30_000,
      jwksUrl: jwks.url,
      jwksCacheMaxAgeMs: 200,
      onKeysUnavailable: (error) => told.push(error),
    });
    const check = async (token: string) => (await auth.fromHeaders(new Headers({ authorization: `Bearer ${token}` }))).failure ?? 'ok';
    expect(await check(await signWith(held, claims('a')))).toBe('ok');
    jwks.answer.failing = true;
    jwks.answer.delayMs = 100;
    await sleep(300);
    const fetches = jwks.fetches();
    // Concurrent requests while the set is stale: one fetch, which fails; all still verify.
    const burst = await Promise.all(Array.from({ length: 20 }, async (_, i) => check(await signWith(held, claims(`burst-${i}`)))));
    expect(burst).toEqual(Array(20).fill('ok'));
    expect(await check(await signWith(unknown, claims('b')))).toBe('The signing keys could not be fetched to check the token; try again shortly.');
    expect(jwks.fetches() - fetches).toBe(1);
    expect(told).toHaveLength(1);
    jwks.answer.failing = false;
    jwks.answer.delayMs = 0;
  });
});

describe('a socket closed while its token is being checked', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ AUTH_MODE: 'jwt', JWT_JWKS_URL: jwks.url, JWT_JWKS_COOLDOWN_MS: '100', MAX_CONNECTIONS_PER_USER: '2' });
  });
  afterAll(async () => {
    await server?.stop();
  });

  /** Opens a graphql-ws socket and sends connection_init: 'ack', or the close code. */
  function connect(token: string, abandonAfterMs?: number): Promise<{ outcome: 'ack' | number; socket: WebSocket }> {
    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.once('open', () => {
        socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
        if (abandonAfterMs !== undefined) setTimeout(() => socket.terminate(), abandonAfterMs);
      });
      socket.on('message', (data) => {
        if (JSON.parse(String(data)).type === 'connection_ack') resolve({ outcome: 'ack', socket });
      });
      socket.once('close', (code) => resolve({ outcome: code, socket }));
    });
  }

  it('does not hold one of its user\'s connections', async () => {
    // Each attempt brings a key the service has not fetched yet, and the key set answers slowly: the
    // socket is gone before its token is checked.
    jwks.answer.delayMs = 300;
    for (let i = 0; i < 3; i++) {
      const key = await signingKey(`slow-${i}`, 'ES256');
      jwks.keys.push(key.publicJwk);
      await sleep(150); // past the cooldown, so that the new kid is fetched
      const fetches = jwks.fetches();
      const { outcome } = await connect(await signWith(key, claims('tab-user')), 50);
      expect(outcome).toBe(1006);
      expect(jwks.fetches()).toBe(fetches + 1);
      await sleep(400); // the slow fetch ends, and the check finishes for a socket that is gone
    }
    jwks.answer.delayMs = 0;
    const key = await signingKey('fast', 'ES256');
    jwks.keys.push(key.publicJwk);
    await sleep(150);
    const token = await signWith(key, claims('tab-user'));
    const first = await connect(token);
    const second = await connect(token);
    const third = await connect(token);
    try {
      // The user's limit (2) is there, and none of it was taken by the abandoned sockets.
      expect([first.outcome, second.outcome, third.outcome]).toEqual(['ack', 'ack', 4429]);
    } finally {
      for (const { socket } of [first, second, third]) socket.terminate();
    }
  });
});
