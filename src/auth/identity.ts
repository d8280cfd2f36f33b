/**
 * Who is calling, for every transport alike. The user id never comes from an operation's arguments.
 * This version has one mode, "dev", which trusts a plain user id (HTTP/SSE headers x-user-id and
 * x-user-name; graphql-ws connectionParams { userId, userName }); src/config.ts refuses it in production.
 */
import { DomainError, ErrorCode } from '../errors.js';

export interface Identity {
  userId: string;
  /** A display name offered by the credentials; joinConflictRoom's userName wins over it. */
  name?: string;
  /** When set, the only transactions these credentials grant; others get FORBIDDEN. */
  transactions?: readonly string[];
}

export interface Authenticator {
  fromHeaders(headers: Headers): Identity | null;
  fromConnectionParams(params: Readonly<Record<string, unknown>> | undefined): Identity | null;
}

const controlCharacter = /[\u0000-\u001f\u007f-\u009f]/;
const validId = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= 128 && !controlCharacter.test(v);
const optionalName = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v : undefined);
const transactionList = (v: unknown) =>
  typeof v === 'string' && v !== '' ? v.split(',').map((s) => s.trim()) : Array.isArray(v) ? v.map(String) : undefined;

function identity(userId: unknown, name: unknown, transactions: unknown): Identity | null {
  if (!validId(userId)) return null;
  const result: Identity = { userId };
  const display = optionalName(name);
  if (display !== undefined) result.name = display;
  const granted = transactionList(transactions);
  if (granted !== undefined) result.transactions = granted;
  return result;
}

/** Development identities: whoever you say you are. Optional `x-user-transactions` (comma-separated) narrows the grant. */
export const devAuthenticator: Authenticator = {
  fromHeaders: (headers) =>
    identity(headers.get('x-user-id'), headers.get('x-user-name'), headers.get('x-user-transactions')),
  fromConnectionParams: (params) => identity(params?.userId, params?.userName, params?.transactions),
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
