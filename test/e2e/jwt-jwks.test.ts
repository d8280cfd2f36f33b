/**
 * AUTH_MODE=jwt with an identity provider's key set (JWT_JWKS_URL) served from 127.0.0.1: RS256 and
 * ES256 keys chosen by kid, a key added while two instances run (rotation), issuer and audience, and the
 * SDK room client renewing an expiring token with no gap in the room.
 */
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { jwtAuthenticator } from '../../src/auth/jwt.js';
import { createRoomClient } from '../../src/sdk/room-client.js';
import { eventually } from '../utils/clients.js';
import { hs256, type SigningKey, signingKey, signWith, startJwksServer } from '../utils/jwt.js';
import { JOIN, ROOM_QUERY, SELECT } from '../utils/operations.js';
import { startCluster } from '../utils/server.js';

const issuer = 'https://idp.test/';
const audience = 'conflict-rooms';

let jwks: Awaited<ReturnType<typeof startJwksServer>>;
let cluster: Awaited<ReturnType<typeof startCluster>>;
let rsa: SigningKey;
let ec: SigningKey;

beforeAll(async () => {
  jwks = await startJwksServer();
  rsa = await signingKey('key-2026-11', 'RS256');
  ec = await signingKey('key-2026-12', 'ES256');
  jwks.keys.push(rsa.publicJwk);
  cluster = await startCluster(inject('redisUrl'), 2, {
    AUTH_MODE: 'jwt',
    JWT_JWKS_URL: jwks.url,
    JWT_ISSUER: issuer,
    JWT_AUDIENCE: audience,
    JWT_CLOCK_SKEW_S: '0',
    // Short, so that the test need not wait 30 s for an unknown kid to be looked up again.
    JWT_JWKS_COOLDOWN_MS: '200',
  });
});
afterAll(async () => {
  await cluster?.stop();
  await jwks?.stop();
});

type Result = { data?: Record<string, any> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
async function http(url: string, token: string, query: string, variables: Record<string, unknown>): Promise<Result> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
  return (await response.json()) as Result;
}
const claims = (sub: string, extra: Record<string, unknown> = {}) => ({ sub, transactions: ['*'], iss: issuer, aud: audience, ...extra });

describe('a JWKS', () => {
  it('accepts RS256 tokens by kid, checks iss and aud, and refuses HS256 and unknown keys', async () => {
    const [a] = cluster.servers;
    const ok = await http(a!.url, await signWith(rsa, claims('rsa-user')), JOIN, { tx: 'jwks-1' });
    expect(ok.data?.['joinConflictRoom'].participants.map((p: { userId: string }) => p.userId)).toEqual(['rsa-user']);

    const refusals: Array<[string, string]> = [
      [await signWith(rsa, claims('u', { iss: 'https://evil.test/' })), 'The token was not issued by the expected issuer (iss).'],
      [await signWith(rsa, claims('u', { aud: 'another-service' })), 'The token is not meant for this service (aud).'],
      // Algorithm confusion: a shared-secret token where only the provider's keys count.
      [await hs256(claims('u')), 'The token is signed with an algorithm this service does not accept.'],
      // A kid the key set does not have (yet).
      [await signWith(ec, claims('u')), 'The token is signed with a key this service does not know (kid).'],
    ];
    for (const [token, message] of refusals) {
      const result = await http(a!.url, token, ROOM_QUERY, { tx: 'jwks-1' });
      expect({ code: result.errors?.[0]?.extensions?.['code'], message: result.errors?.[0]?.message }).toEqual({ code: 'UNAUTHENTICATED', message });
    }
  });

  it('a key added to the set while both instances run is used by both (rotation), and the old one keeps working', async () => {
    const tx = 'jwks-rotation';
    const [a, b] = cluster.servers;
    await http(a!.url, await signWith(rsa, claims('old-key-user')), JOIN, { tx });
    jwks.keys.push(ec.publicJwk);
    // Past the cooldown, an unknown kid makes each instance fetch the set again.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const fetchesBefore = jwks.fetches();
    const newToken = await signWith(ec, claims('new-key-user'));
    for (const [server, query, variables] of [
      [a!, JOIN, { tx }],
      [b!, SELECT, { tx, field: 'price', value: '2' }],
    ] as const) {
      const result = await http(server.url, newToken, query, variables);
      expect(result.errors).toBeUndefined();
    }
    expect(jwks.fetches()).toBeGreaterThan(fetchesBefore);
    expect((await http(b!.url, await signWith(rsa, claims('old-key-user')), ROOM_QUERY, { tx })).data?.['conflictRoom'].version).toBe(3);
  });
});

describe('an unreachable key set', () => {
  it('a key set that cannot be fetched is UNAUTHENTICATED saying so, and told to the operator', async () => {
    // A port that was free a moment ago: nothing answers there.
    const port = await new Promise<number>((resolve) => {
      const probe = createTcpServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    const told: unknown[] = [];
    const remote = jwtAuthenticator({ secret: null, issuer: null, audience: null, clockSkewSeconds: 5, jwksCooldownMs: 30_000, jwksUrl: `http://127.0.0.1:${port}/jwks.json`, onKeysUnavailable: (error) => told.push(error) });
    const token = `${Buffer.from('{"alg":"RS256","kid":"k1"}').toString('base64url')}.${Buffer.from('{"sub":"u","exp":9999999999}').toString('base64url')}.c2ln`;
    expect(await remote.fromHeaders(new Headers({ authorization: `Bearer ${token}` }))).toEqual({
      identity: null,
      failure: 'The signing keys could not be fetched to check the token; try again shortly.',
    });
    expect(told).toHaveLength(1);
  });
});

describe('the SDK room client', () => {
  it('with a token function, reconnects with a fresh token when the old one expires and resumes with no gap', async () => {
    const tx = 'jwks-sdk-refresh';
    const [a, b] = cluster.servers;
    let minted = 0;
    // Each token lives about 2 s (exp is in whole seconds).
    const token = async () => {
      minted++;
      return signWith(rsa, { ...claims('sdk-user'), expiresIn: 2 });
    };
    const rooms = createRoomClient({ url: a!.url.replace(/^http/, 'ws'), token, webSocketImpl: WebSocket, retryWait: () => new Promise((r) => setTimeout(r, 50)) });
    try {
      const room = await rooms.joinRoom(tx, { userName: 'Sam' });
      const errors: string[] = [];
      room.onError((error) => errors.push(`${error.code}`));
      const writer = await signWith(rsa, claims('writer'));
      expect((await http(b!.url, writer, JOIN, { tx })).errors).toBeUndefined();
      // Writes from another instance, across at least two expiries of the SDK's token.
      const values: string[] = [];
      for (let i = 1; i <= 10; i++) {
        values.push(String(i));
        const result = await http(b!.url, writer, SELECT, { tx, field: `f${i % 3}`, value: String(i) });
        expect(result.errors).toBeUndefined();
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      const server = (await http(b!.url, writer, ROOM_QUERY, { tx })).data?.['conflictRoom'];
      await eventually(() => room.state.version === server.version, 8000, 'the room client catching up');
      expect(room.state.selections.map((s) => [s.field, s.value]).sort()).toEqual(server.selections.map((s: { field: string; value: string }) => [s.field, s.value]).sort());
      expect(room.status).toBe('live');
      expect(minted).toBeGreaterThanOrEqual(3);
      // Each expiry was told, none closed the room.
      expect(errors.length).toBeGreaterThanOrEqual(2);
      expect(new Set(errors)).toEqual(new Set(['UNAUTHENTICATED']));
      room.close();
    } finally {
      await rooms.dispose();
    }
  });
});
