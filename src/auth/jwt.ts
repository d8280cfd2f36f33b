/**
 * Production identity (AUTH_MODE=jwt): a JWT verified by jose, the same way for every transport.
 * HTTP and SSE send `Authorization: Bearer <token>`; graphql-ws sends it as
 * `connectionParams.authorization`. The development headers and connectionParams are never read here.
 */
import { createLocalJWKSet, createRemoteJWKSet, errors, type JWTHeaderParameters, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { JwtConfig } from '../config.js';
import { parseTransactionGrant } from './grant.js';
import { type Authentication, type Authenticator, type Identity, validUserId } from './identity.js';

const bearer = /^Bearer +([A-Za-z0-9\-_.~+/]+=*) *$/i;
/** A token longer than this is refused unread (a header can be 64 KiB; nothing legitimate comes close). */
const maxTokenLength = 8192;

/**
 * Verified tokens are remembered, so that a client sending the same token on every request pays for
 * one signature check (jose's WebCrypto HS256 verify measured about 270 µs on a busy 2-core machine),
 * not one per request. An entry lives until its token expires, and at most `rememberMs`, so a key
 * removed from a JWKS stops counting within that time.
 */
const rememberedTokens = 10_000;
/** And at most this many characters of tokens in all (tokens can be 8 KiB each: 80 MB by count alone). */
const rememberedChars = 4 * 1024 * 1024;
const rememberMs = 5 * 60_000;

const missing = (where: string): Authentication => ({ identity: null, failure: `Send a JWT: ${where}.` });

/** The key set could not be had: a timeout, a failed fetch (not a JOSEError) or a broken answer. */
const keysUnavailable = (error: unknown) =>
  !(error instanceof errors.JOSEError) || error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || error.code === 'ERR_JOSE_GENERIC';

/** Why a token was refused, in words a client developer can act on; never the token itself. */
function refusal(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'The token has expired: get a new one.';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'The token is not valid yet (nbf).';
    if (error.claim === 'iss') return 'The token was not issued by the expected issuer (iss).';
    if (error.claim === 'aud') return 'The token is not meant for this service (aud).';
    return `The token's "${error.claim}" claim is missing or invalid.`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return 'The token is signed with an algorithm this service does not accept.';
  if (error instanceof errors.JWKSNoMatchingKey) return 'The token is signed with a key this service does not know (kid).';
  if (keysUnavailable(error)) return 'The signing keys could not be fetched to check the token; try again shortly.';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'The token signature does not verify.';
  return 'The token is malformed.';
}

export interface JwtAuthenticatorOptions extends JwtConfig {
  /** Told when the key set cannot be fetched (an operator's problem, not the caller's). */
  onKeysUnavailable?(error: unknown): void;
  /** How long a fetched key set counts as current before it is fetched again (jose's default: 10 min). For tests. */
  jwksCacheMaxAgeMs?: number;
}

/** After a failed key set fetch, how long requests that would fetch again are refused without trying. */
const maxFetchBackoffMs = 5000;

/**
 * jose's remote key set has two gaps when the provider is down: it fetches again for every token with an
 * unknown kid while its last fetch failed (its cooldown starts only after a success), and once its copy
 * is older than its cacheMaxAge (10 min) it refuses every token, even one signed with a key it holds.
 * Here a failure is remembered for a short while (requests that would fetch again are answered at once,
 * the operator is told once per window), and while the provider cannot be reached, tokens signed with a
 * key of the last set fetched still verify against it.
 */
function resilientKeySet(url: URL, cooldownMs: number, onFailure: (error: unknown) => void, cacheMaxAgeMs?: number): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(url, { cooldownDuration: cooldownMs, timeoutDuration: 5000, ...(cacheMaxAgeMs !== undefined ? { cacheMaxAge: cacheMaxAgeMs } : {}) });
  const backoffMs = Math.min(cooldownMs, maxFetchBackoffMs);
  let failedAt = -Infinity;
  let reportedAt = -Infinity;
  let failure: unknown;
  /** The last set fetched, taken when a fetch fails (jose copies it on every jwks() call). */
  let held: { verify: JWTVerifyGetKey; kids: Set<string | undefined> } | null = null;
  const holds = (header: JWTHeaderParameters) => held !== null && (header.kid === undefined ? held.kids.size > 0 : held.kids.has(header.kid));
  const failed = (error: unknown) => {
    failedAt = Date.now();
    // Requests that waited on one failed fetch all get its error: the set is taken once.
    if (error === failure) return;
    failure = error;
    const keys = remote.jwks();
    held = keys ? { verify: createLocalJWKSet(keys), kids: new Set(keys.keys.map((k) => k.kid)) } : null;
    // Every request waiting on one failed fetch sees its error: tell the operator once.
    if (failedAt - reportedAt >= backoffMs) {
      reportedAt = failedAt;
      onFailure(error);
    }
  };
  return async (header, token) => {
    if (Date.now() - failedAt < backoffMs) {
      if (holds(header)) return held!.verify(header, token);
      throw failure;
    }
    try {
      return await remote(header, token);
    } catch (error) {
      if (!keysUnavailable(error)) throw error;
      failed(error);
      if (holds(header)) return held!.verify(header, token);
      throw error;
    }
  };
}

export function jwtAuthenticator(options: JwtAuthenticatorOptions): Authenticator {
  const key: Uint8Array | JWTVerifyGetKey = options.secret
    ? new TextEncoder().encode(options.secret)
    : resilientKeySet(new URL(options.jwksUrl ?? ''), options.jwksCooldownMs, (error) => options.onKeysUnavailable?.(error), options.jwksCacheMaxAgeMs);
  const verifyOptions = {
    algorithms: options.secret ? ['HS256'] : ['RS256', 'ES256'],
    clockTolerance: options.clockSkewSeconds,
    requiredClaims: ['sub', 'exp'],
    ...(options.issuer ? { issuer: options.issuer } : {}),
    ...(options.audience ? { audience: options.audience } : {}),
  };

  const remembered = new Map<string, { identity: Identity; until: number }>();
  let rememberedLength = 0;
  const forget = (token: string) => {
    if (remembered.delete(token)) rememberedLength -= token.length;
  };

  async function verify(token: string): Promise<Authentication> {
    if (token.length > maxTokenLength) return { identity: null, failure: 'The token is too long.' };
    const known = remembered.get(token);
    if (known && Date.now() <= known.until) return { identity: known.identity };
    if (known) forget(token);
    const authentication = await verifyUncached(token);
    const { identity } = authentication;
    if (identity && !remembered.has(token)) {
      // Insertion order is age order: the oldest entries go first.
      while (remembered.size > 0 && (remembered.size >= rememberedTokens || rememberedLength + token.length > rememberedChars)) {
        forget(remembered.keys().next().value as string);
      }
      remembered.set(token, { identity, until: Math.min(identity.expiresAt ?? Infinity, Date.now() + rememberMs) });
      rememberedLength += token.length;
    }
    return authentication;
  }

  async function verifyUncached(token: string): Promise<Authentication> {
    let payload: JWTPayload;
    try {
      // Both overloads of jwtVerify (a key, or a key set function) take the same options.
      payload = (await jwtVerify(token, key as Uint8Array, verifyOptions)).payload;
    } catch (error) {
      return { identity: null, failure: refusal(error) };
    }
    if (!validUserId(payload.sub)) return { identity: null, failure: 'The token\'s "sub" claim is not a valid user id (1 to 128 characters).' };
    // A missing or malformed `transactions` claim grants nothing: a room is only reachable when the
    // token says so.
    const grant = parseTransactionGrant(payload['transactions']);
    const identity: Identity = {
      userId: payload.sub,
      // exp is a required claim; after exp plus the allowed skew the token no longer holds.
      expiresAt: ((payload.exp as number) + options.clockSkewSeconds) * 1000,
    };
    if (typeof payload['name'] === 'string' && payload['name'].trim() !== '') identity.name = payload['name'];
    if (!grant.all) identity.transactions = grant.transactions;
    // Shared by every request that brings this token (see rememberedTokens).
    return { identity: Object.freeze(identity) };
  }

  return {
    mode: 'jwt',
    refusesAnonymousConnections: true,
    fromHeaders(headers) {
      const header = headers.get('authorization');
      if (header === null) return Promise.resolve(missing('send the header Authorization: Bearer <token>'));
      const token = bearer.exec(header)?.[1];
      return token ? verify(token) : Promise.resolve({ identity: null, failure: 'The Authorization header must be "Bearer <token>".' });
    },
    fromConnectionParams(params) {
      const value = params?.['authorization'] ?? params?.['Authorization'];
      if (value === undefined) return Promise.resolve(missing('send connectionParams { authorization: "Bearer <token>" }'));
      const token = typeof value === 'string' ? bearer.exec(value)?.[1] : undefined;
      return token ? verify(token) : Promise.resolve({ identity: null, failure: 'connectionParams.authorization must be "Bearer <token>".' });
    },
  };
}
