/** jwtAuthenticator alone: where the token is read from, what the claims become, and why a token is refused. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { jwtAuthenticator } from '../../src/auth/jwt.js';
import { hs256, testSecret } from '../utils/jwt.js';

const config = { secret: testSecret, jwksUrl: null, issuer: null, audience: null, clockSkewSeconds: 5, jwksCooldownMs: 30_000 };
const auth = jwtAuthenticator(config);

afterEach(() => vi.useRealTimers());

describe('jwtAuthenticator', () => {
  it('a remembered token stops counting when it expires', async () => {
    const remembering = jwtAuthenticator(config);
    const headers = new Headers({ authorization: `Bearer ${await hs256({ sub: 'u', transactions: ['*'], expiresIn: 60 })}` });
    expect((await remembering.fromHeaders(headers)).identity?.userId).toBe('u');
    expect((await remembering.fromHeaders(headers)).identity?.userId).toBe('u');
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 66_000); // past exp plus the 5 s skew
    expect(await remembering.fromHeaders(headers)).toEqual({ identity: null, failure: 'The token has expired: get a new one.' });
  });

  it('maps sub, name and transactions; expiresAt is exp plus the clock skew', async () => {
    const token = await hs256({ sub: 'buyer-7', name: 'Alice', transactions: ['tx-1', 'tx-2'], expiresIn: 600 });
    const exp = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp as number;
    expect(await auth.fromHeaders(new Headers({ authorization: `Bearer ${token}` }))).toEqual({
      identity: { userId: 'buyer-7', name: 'Alice', transactions: ['tx-1', 'tx-2'], expiresAt: (exp + 5) * 1000 },
    });
    // The same token over graphql-ws; the scheme is case-insensitive.
    expect((await auth.fromConnectionParams({ authorization: `bearer ${token}` })).identity?.userId).toBe('buyer-7');
  });

  it('["*"] grants every transaction; a missing or malformed claim grants none', async () => {
    const identity = async (transactions: unknown) => (await auth.fromConnectionParams({ authorization: `Bearer ${await hs256({ sub: 'u', transactions })}` })).identity;
    expect((await identity(['*']))?.transactions).toBeUndefined();
    expect((await identity(undefined))?.transactions).toEqual([]);
    expect((await identity('tx-1'))?.transactions).toEqual([]);
    expect((await identity(['*', 'tx-1']))?.transactions).toEqual([]);
  });

  it('never reads the development headers or connectionParams', async () => {
    expect(await auth.fromHeaders(new Headers({ 'x-user-id': 'alice' }))).toEqual({ identity: null, failure: 'Send a JWT: send the header Authorization: Bearer <token>.' });
    expect(await auth.fromConnectionParams({ userId: 'alice' })).toEqual({
      identity: null,
      failure: 'Send a JWT: send connectionParams { authorization: "Bearer <token>" }.',
    });
    expect(await auth.fromConnectionParams({ authorization: 42 })).toEqual({ identity: null, failure: 'connectionParams.authorization must be "Bearer <token>".' });
  });
});
