/**
 * Who is calling, for every transport alike. The user id never comes from an operation's arguments.
 * This version has one mode, "dev", which trusts a plain user id (HTTP/SSE headers x-user-id and
 * x-user-name; graphql-ws connectionParams { userId, userName }); src/config.ts refuses it in production.
 */
import { DomainError, ErrorCode } from '../errors.js';
import { parseTransactionGrant, parseTransactionGrantHeader, type TransactionGrant } from './grant.js';

export interface Identity {
  userId: string;
  /** A display name offered by the credentials; joinConflictRoom's userName wins over it. */
  name?: string;
  /** When set, the only transactions these credentials grant (empty: none); others get FORBIDDEN. */
  transactions?: readonly string[];
}

export interface Authenticator {
  fromHeaders(headers: Headers): Identity | null;
  fromConnectionParams(params: Readonly<Record<string, unknown>> | undefined): Identity | null;
}

const controlCharacter = /[\u0000-\u001f\u007f-\u009f]/;
const validId = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= 128 && !controlCharacter.test(v);
const optionalName = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v : undefined);

/** `grant` undefined: the credentials carry no grant, which (in development mode) allows every transaction. */
function identity(userId: unknown, name: unknown, grant: TransactionGrant | undefined): Identity | null {
  if (!validId(userId)) return null;
  const result: Identity = { userId };
  const display = optionalName(name);
  if (display !== undefined) result.name = display;
  if (grant && !grant.all) result.transactions = grant.transactions;
  return result;
}

/**
 * Development identities: whoever you say you are. An `x-user-transactions` header (comma-separated,
 * or `*`) or a `connectionParams.transactions` array narrows the grant; a malformed one grants nothing.
 */
export const devAuthenticator: Authenticator = {
  fromHeaders: (headers) => {
    const transactions = headers.get('x-user-transactions');
    return identity(headers.get('x-user-id'), headers.get('x-user-name'), transactions === null ? undefined : parseTransactionGrantHeader(transactions));
  },
  fromConnectionParams: (params) =>
    identity(
      params?.userId,
      params?.userName,
      params && 'transactions' in params && params.transactions !== undefined ? parseTransactionGrant(params.transactions) : undefined,
    ),
};

export function requireIdentity(identity: Identity | null): Identity {
  if (!identity) {
    throw new DomainError(
      ErrorCode.Unauthenticated,
      'Sign in first: send the x-user-id header (HTTP, SSE) or connectionParams.userId (WebSocket).',
    );
  }
  return identity;
}

export function requireAccess(identity: Identity, transactionId: string): void {
  if (identity.transactions && !identity.transactions.includes(transactionId)) {
    throw new DomainError(ErrorCode.Forbidden, `Your credentials do not grant transaction "${transactionId}".`);
  }
}
