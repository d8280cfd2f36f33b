/** Real tokens for tests: HS256 with a shared secret, and RS256 / ES256 keys served as a JWKS from 127.0.0.1. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT, type CryptoKey } from 'jose';

export const testSecret = 'test-secret-for-hs256-at-least-32-characters';

export interface Claims {
  sub?: string;
  name?: string;
  transactions?: unknown;
  iss?: string;
  aud?: string;
  /** Seconds from now; default 300. null: no exp claim. */
  expiresIn?: number | null;
  /** Seconds from now for nbf. */
  notBeforeIn?: number;
}

function build(claims: Claims): SignJWT {
  const now = Math.floor(Date.now() / 1000);
  const { sub, expiresIn = 300, notBeforeIn, iss, aud, ...rest } = claims;
  const jwt = new SignJWT(rest as Record<string, unknown>).setIssuedAt(now);
  if (sub !== undefined) jwt.setSubject(sub);
  if (expiresIn !== null) jwt.setExpirationTime(now + expiresIn);
  if (notBeforeIn !== undefined) jwt.setNotBefore(now + notBeforeIn);
  if (iss !== undefined) jwt.setIssuer(iss);
  if (aud !== undefined) jwt.setAudience(aud);
  return jwt;
}

/** An HS256 token signed with `secret` (default: the one the test servers use). */
export function hs256(claims: Claims, secret = testSecret): Promise<string> {
  return build(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));
}

export interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function signingKey(kid: string, alg: 'RS256' | 'ES256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export function signWith(key: SigningKey, claims: Claims): Promise<string> {
  return build(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
}

/** An identity provider's key set on 127.0.0.1: `keys` can change while servers run (rotation). */
export interface JwksServer {
  url: string;
  keys: JWK[];
  fetches: () => number;
  /** How the next answers behave: `delayMs` before answering, or a 503 while `failing`. */
  answer: { delayMs: number; failing: boolean };
  stop(): Promise<void>;
}

export async function startJwksServer(): Promise<JwksServer> {
  const keys: JWK[] = [];
  const answer = { delayMs: 0, failing: false };
  let fetches = 0;
  const server: Server = createServer((_request, response) => {
    fetches++;
    const reply = () => {
      if (answer.failing) return response.writeHead(503).end();
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ keys }));
    };
    if (answer.delayMs > 0) setTimeout(reply, answer.delayMs);
    else reply();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`,
    keys,
    fetches: () => fetches,
    answer,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
