/**
 * What the HTTP side lets in before any GraphQL runs: which browser origins may call (CORS, and the
 * same list for WebSocket upgrades), JSON-only POST bodies, and yoga's CSRF prevention for GETs that
 * could do more than read.
 */
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import { ErrorCode } from '../errors.js';

/** True when a browser page from `origin` may call: "*" allows any, a list only its own. */
export function originAllowed(origin: string, allowed: '*' | readonly string[]): boolean {
  return allowed === '*' || allowed.includes(origin);
}

/**
 * Yoga's `cors` option. An allowed origin is echoed alone, never with credentials (identity travels in
 * headers, not cookies); any other origin gets no CORS headers at all, so its pages cannot read answers.
 */
export function corsFor(allowed: '*' | readonly string[]) {
  return (request: Request) => {
    const origin = request.headers.get('origin');
    if (origin === null || !originAllowed(origin, allowed)) return false as const;
    return {
      origin: [origin],
      credentials: false,
      methods: ['GET', 'POST'],
      allowedHeaders: ['content-type', 'authorization', 'x-user-id', 'x-user-name', 'x-user-transactions', 'x-graphql-yoga-csrf'],
      maxAge: 600,
    };
  };
}

/**
 * Headers that a browser sends cross-site only after a CORS preflight, so a request carrying one was
 * checked: yoga's own CSRF header, and the credentials headers every client of this service sends.
 */
export const csrfHeaders = ['x-graphql-yoga-csrf', 'apollo-require-preflight', 'authorization', 'x-user-id'];

const jsonType = /^application\/json\s*(;|$)/i;

/**
 * A POST body must be JSON (content-type application/json). Forms (urlencoded, multipart) and
 * text/plain are what a hostile page can post without a preflight, so they are refused with 415
 * before the body is read.
 */
export function jsonBodiesOnly(): Plugin {
  return {
    onRequestParse({ request }) {
      if (request.method === 'GET') return checkGetParams(request);
      if (request.method !== 'POST') return;
      if (jsonType.test(request.headers.get('content-type') ?? '')) return;
      throw createGraphQLError('POST bodies must be JSON: send content-type application/json.', {
        extensions: { code: ErrorCode.BadUserInput, reason: 'UNSUPPORTED_MEDIA_TYPE', http: { status: 415 } },
      });
    },
  };
}

/**
 * A GET that can only read: not a stream (SSE, multipart) and no subscription in its query. Yoga runs
 * no mutation over GET, and a page that is not an allowed origin cannot read the answer (no CORS
 * headers), so such a GET needs no preflight: `curl '/graphql?query={__typename}'` works as is. A
 * subscription over GET holds presence, so it needs the preflight header like everything else.
 */
export function isReadOnlyGet(request: Request): boolean {
  if (request.method !== 'GET') return false;
  if (/text\/event-stream|multipart\/mixed/i.test(request.headers.get('accept') ?? '')) return false;
  const query = new URL(request.url).searchParams.get('query');
  return query !== null && !/subscription/i.test(query);
}

/** yoga's CSRF prevention, except for read-only GETs (above). */
function csrfPrevention(): Plugin {
  const csrf = useCSRFPrevention({ requestHeaders: csrfHeaders }) as Plugin;
  return {
    onRequestParse(payload) {
      if (isReadOnlyGet(payload.request)) return;
      return csrf.onRequestParse?.(payload);
    },
  };
}

/** A GET's `variables` and `extensions` must be JSON objects: yoga answers a broken one with a bare 500. */
function checkGetParams(request: Request): void {
  const params = new URL(request.url).searchParams;
  for (const name of ['variables', 'extensions']) {
    const text = params.get(name);
    if (text === null) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined;
    }
    if (value === null || (typeof value === 'object' && !Array.isArray(value))) continue;
    throw createGraphQLError(`The ${name} parameter must be a JSON object.`, {
      extensions: { code: ErrorCode.BadUserInput, reason: 'BAD_REQUEST', argumentName: name, http: { status: 400 } },
    });
  }
}

/** Every HTTP guard, in the order they run. */
export function httpGuards(): Plugin[] {
  return [jsonBodiesOnly(), csrfPrevention()];
}
