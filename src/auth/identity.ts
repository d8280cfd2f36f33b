/**
 * Who is calling, for every transport alike. The user id never comes from an operation's arguments.
 * Two modes: "jwt" (src/auth/jwt.ts), the only one production allows, and "dev", which trusts a plain
 * user id (HTTP/SSE headers x-user-id and x-user-name; graphql-ws connectionParams { userId, userName })
 * and which src/config.ts refuses in production.
 */
import { DomainError, ErrorCode } from '../errors.js';
import { parseTransactionGrant, parseTransactionGrantHeader, type TransactionGrant } from './grant.js';

export interface Identity {
  userId: string;
  /** A display name offered by the credentials; joinConflictRoom's userName wins over it. */
  name?: string;
  /** When set, the only transactions these credentials grant (empty: none); others get FORBIDDEN. */
  transactions?: readonly string[];
  /**
   * Epoch milliseconds after which these credentials no longer hold (a JWT's exp plus the allowed
   * clock skew): a subscription opened with them ends then. Unset: they do not expire.
   */
  expiresAt?: number;
}

/** The outcome of reading a request's credentials: who, or why nobody. */
export interface Authentication {
  identity: Identity | null;
  /** Why there is no identity, for the UNAUTHENTICATED message; never contains the credentials. */
  failure?: string;
}

export interface Authenticator {
  readonly mode: 'dev' | 'jwt';
  /** Whether a WebSocket without valid credentials is refused at connection_init (jwt) or may connect (dev). */
  readonly refusesAnonymousConnections: boolean;
  fromHeaders(headers: Headers): Promise<Authentication>;
  fromConnectionParams(params: Readonly<Record<string, unknown>> | undefined): Promise<Authentication>;
}

const controlCharacter = /[\u0000-\u001f\u007f-\u009f]/;
export const validUserId = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= 128 && !controlCharacter.test(v);
const optionalName = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v : undefined);

/** `grant` undefined: the credentials carry no grant, which (in development mode) allows every transaction. */
function identity(userId: unknown, name: unknown, grant: TransactionGrant | undefined): Identity | null {
  if (!validUserId(userId)) return null;
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
const devFailure = 'Sign in first: send the x-user-id header (HTTP, SSE) or connectionParams.userId (WebSocket).';
const dev = (found: Identity | null): Promise<Authentication> => Promise.resolve(found ? { identity: found } : { identity: null, failure: devFailure });

export const devAuthenticator: Authenticator = {
  mode: 'dev',
  refusesAnonymousConnections: false,
  fromHeaders: (headers) => {
    const transactions = headers.get('x-user-transactions');
    return dev(identity(headers.get('x-user-id'), headers.get('x-user-name'), transactions === null ? undefined : parseTransactionGrantHeader(transactions)));
  },
  fromConnectionParams: (params) =>
    dev(
      identity(
        params?.userId,
        params?.userName,
        params && 'transactions' in params && params.transactions !== undefined ? parseTransactionGrant(params.transactions) : undefined,
      ),
    ),
};

/** The identity, or UNAUTHENTICATED saying why there is none (credentials missing, invalid or expired). */
export function requireIdentity(identity: Identity | null, failure: string = devFailure, now: number = Date.now()): Identity {
  if (!identity) throw new DomainError(ErrorCode.Unauthenticated, failure);
  // A WebSocket's credentials were read at connection_init; they may have run out since.
  if (identity.expiresAt !== undefined && now > identity.expiresAt) {
    throw new DomainError(ErrorCode.Unauthenticated, 'The token has expired: get a new one.');
  }
  return identity;
}

export function requireAccess(identity: Identity, transactionId: string): void {
  if (identity.transactions && !identity.transactions.includes(transactionId)) {
    throw new DomainError(ErrorCode.Forbidden, `Your credentials do not grant transaction "${transactionId}".`);
  }
}
