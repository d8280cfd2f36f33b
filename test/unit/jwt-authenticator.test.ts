/** jwtAuthenticator alone: where the token is read from, what the claims become, and why a token is refused. */
import { describe, expect, it } from 'vitest';
import { jwtAuthenticator } from '../../src/auth/jwt.js';
import { hs256, testSecret } from '../utils/jwt.js';

const config = { secret: testSecret, jwksUrl: null, issuer: null, audience: null, clockSkewSeconds: 5, jwksCooldownMs: 30_000 };
const auth = jwtAuthenticator(config);

describe('jwtAuthenticator', () => {
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
