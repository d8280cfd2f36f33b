/** The strict grant parser (issue 8, finding 6): a malformed grant grants nothing, never everything. */
import { describe, expect, it } from 'vitest';
import { maxGrantedTransactions, parseTransactionGrant, parseTransactionGrantHeader } from '../../src/auth/grant.js';
import { devAuthenticator } from '../../src/auth/identity.js';

const nothing = { all: false, transactions: [] };

describe('parseTransactionGrant', () => {
  it('reads a list of transaction ids, without duplicates', () => {
    expect(parseTransactionGrant(['tx-1', 'tx:2', 'tx-1'])).toEqual({ all: false, transactions: ['tx-1', 'tx:2'] });
  });

  it('["*"] grants everything', () => {
    expect(parseTransactionGrant(['*'])).toEqual({ all: true });
  });

  it('grants nothing for anything malformed', () => {
    for (const value of [undefined, null, '', 'tx-1', 'tx-1,tx-2', 42, {}, { 0: 'tx-1' }, [], [''], ['tx 1'], ['tx-1', 7], ['*', 'tx-1'], [['tx-1']], ['x'.repeat(1025)]]) {
      expect(parseTransactionGrant(value), JSON.stringify(value)).toEqual(nothing);
    }
    expect(parseTransactionGrant(Array.from({ length: maxGrantedTransactions + 1 }, (_, i) => `tx-${i}`))).toEqual(nothing);
  });
});

describe('parseTransactionGrantHeader', () => {
  it('reads a comma-separated list with optional spaces, and *', () => {
    expect(parseTransactionGrantHeader('tx-1, tx-2,tx-3')).toEqual({ all: false, transactions: ['tx-1', 'tx-2', 'tx-3'] });
    expect(parseTransactionGrantHeader(' * ')).toEqual({ all: true });
  });

  it('grants nothing for an empty value or an empty entry', () => {
    for (const value of ['', ' ', ',', 'tx-1,', 'tx-1,,tx-2', 'tx 1', '*,tx-1']) expect(parseTransactionGrantHeader(value), value).toEqual(nothing);
  });
});

describe('devAuthenticator with a malformed grant', () => {
  it('an empty x-user-transactions header narrows to no transaction at all', async () => {
    expect((await devAuthenticator.fromHeaders(new Headers({ 'x-user-id': 'u1', 'x-user-transactions': '' }))).identity).toEqual({ userId: 'u1', transactions: [] });
  });

  it('connectionParams.transactions that is not an array narrows to no transaction; absent leaves the grant open', async () => {
    for (const transactions of ['tx-1', null, 1, { tx: true }]) {
      expect((await devAuthenticator.fromConnectionParams({ userId: 'u1', transactions })).identity).toEqual({ userId: 'u1', transactions: [] });
    }
    expect((await devAuthenticator.fromConnectionParams({ userId: 'u1' })).identity).toEqual({ userId: 'u1' });
    expect((await devAuthenticator.fromConnectionParams({ userId: 'u1', transactions: ['*'] })).identity).toEqual({ userId: 'u1' });
  });
});
