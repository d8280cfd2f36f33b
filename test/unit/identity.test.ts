import { describe, it, expect } from 'vitest';
import { devAuthenticator, requireAccess, requireIdentity, type Identity } from '../../src/auth/identity.js';
import { thrownDomainError as domainError } from '../utils/errors.js';

const fromHeaders = async (headers: Headers) => (await devAuthenticator.fromHeaders(headers)).identity;
const fromParams = async (params: Record<string, unknown> | undefined) => (await devAuthenticator.fromConnectionParams(params)).identity;

describe('devAuthenticator.fromHeaders', () => {
  it('reads the user id alone', async () => {
    expect(await fromHeaders(new Headers({ 'x-user-id': 'u1' }))).toEqual({ userId: 'u1' });
  });

  it('reads the optional name and the transactions list', async () => {
    const identity = await fromHeaders(
      new Headers({ 'x-user-id': 'buyer-7', 'x-user-name': 'Alice', 'x-user-transactions': 'tx-1, tx-2,tx-3' }),
    );
    expect(identity).toEqual({ userId: 'buyer-7', name: 'Alice', transactions: ['tx-1', 'tx-2', 'tx-3'] });
  });

  it('returns null when the user id is missing or empty', async () => {
    expect(await fromHeaders(new Headers())).toBeNull();
    expect(await fromHeaders(new Headers({ 'x-user-name': 'Alice' }))).toBeNull();
    expect(await fromHeaders(new Headers({ 'x-user-id': '' }))).toBeNull();
  });

  it('returns null for a user id longer than 128 characters', async () => {
    expect(await fromHeaders(new Headers({ 'x-user-id': 'u'.repeat(129) }))).toBeNull();
    expect(await fromHeaders(new Headers({ 'x-user-id': 'u'.repeat(128) }))).toEqual({ userId: 'u'.repeat(128) });
  });

  it('leaves out a blank name; an empty transactions header grants nothing (issue 8: it used to grant everything)', async () => {
    expect(
      await fromHeaders(new Headers({ 'x-user-id': 'u1', 'x-user-name': '   ', 'x-user-transactions': '' })),
    ).toEqual({ userId: 'u1', transactions: [] });
  });
});

describe('devAuthenticator.fromConnectionParams', () => {
  it('reads userId, userName and a transactions array', async () => {
    expect(await fromParams({ userId: 'u1', userName: 'Alice', transactions: ['tx-1', 'tx-2'] })).toEqual({
      userId: 'u1',
      name: 'Alice',
      transactions: ['tx-1', 'tx-2'],
    });
  });

  it('a transactions value that is not an array grants nothing (issue 8: a string used to be read leniently)', async () => {
    expect(await fromParams({ userId: 'u1', transactions: 'tx-1, tx-2' })).toEqual({
      userId: 'u1',
      transactions: [],
    });
  });

  it('the name is optional', async () => {
    expect(await fromParams({ userId: 'u1' })).toEqual({ userId: 'u1' });
    expect(await fromParams({ userId: 'u1', userName: '' })).toEqual({ userId: 'u1' });
    expect(await fromParams({ userId: 'u1', userName: 42 })).toEqual({ userId: 'u1' });
  });

  it('returns null when the user id is missing, empty or not a string', async () => {
    expect(await fromParams(undefined)).toBeNull();
    expect(await fromParams({})).toBeNull();
    expect(await fromParams({ userName: 'Alice' })).toBeNull();
    expect(await fromParams({ userId: '' })).toBeNull();
    expect(await fromParams({ userId: 42 })).toBeNull();
    expect(await fromParams({ userId: null })).toBeNull();
    expect(await fromParams({ userId: 'u\n1' })).toBeNull();
  });
});

describe('requireIdentity', () => {
  it('returns the identity', () => {
    const identity: Identity = { userId: 'u1', name: 'Alice' };
    expect(requireIdentity(identity)).toBe(identity);
  });

  it('fails with UNAUTHENTICATED without one, saying why', () => {
    const error = domainError(() => requireIdentity(null));
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(error.message).toBe('Sign in first: send the x-user-id header (HTTP, SSE) or connectionParams.userId (WebSocket).');
    expect(domainError(() => requireIdentity(null, 'The token has expired: get a new one.')).message).toBe('The token has expired: get a new one.');
  });

  it('fails with UNAUTHENTICATED once credentials read earlier (a WebSocket\'s) have expired', () => {
    const identity: Identity = { userId: 'u1', expiresAt: 10_000 };
    expect(requireIdentity(identity, undefined, 10_000)).toBe(identity);
    const error = domainError(() => requireIdentity(identity, undefined, 10_001));
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(error.message).toBe('The token has expired: get a new one.');
  });
});

describe('requireAccess', () => {
  it('grants every transaction when no list is given', () => {
    expect(() => requireAccess({ userId: 'u1' }, 'tx-1')).not.toThrow();
    expect(() => requireAccess({ userId: 'u1' }, 'anything')).not.toThrow();
  });

  it('grants a transaction on the list', () => {
    expect(() => requireAccess({ userId: 'u1', transactions: ['tx-1', 'tx-2'] }, 'tx-2')).not.toThrow();
  });

  it('fails with FORBIDDEN when the list excludes the transaction', () => {
    const error = domainError(() => requireAccess({ userId: 'u1', transactions: ['tx-1'] }, 'tx-9'));
    expect(error.code).toBe('FORBIDDEN');
    expect(error.message).toContain('tx-9');
    expect(domainError(() => requireAccess({ userId: 'u1', transactions: [] }, 'tx-1')).code).toBe('FORBIDDEN');
  });
});
