/**
 * GraphiQL, built once. The page is about 9 MB (the editor is inlined so it works offline); yoga renders
 * it for every GET, which a caller could repeat to keep the server busy. Here it is rendered when first
 * requested, hashed for an ETag, and served with caching and security headers; a matching If-None-Match
 * gets 304. The renderer (9 MB of source, about 20 MB of heap once loaded) is imported only then, so an
 * instance nobody opens GraphiQL on never loads it. Only installed where GraphiQL is on (GRAPHIQL;
 * default off in production).
 */
import { createHash } from 'node:crypto';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';

/**
 * The page's scripts are inline and its editor starts workers from blob: URLs; nothing loads from
 * anywhere but this server, and no other site may frame it.
 */
export const graphiqlContentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:",
  "worker-src 'self' blob:",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "object-src 'none'",
].join('; ');

function isPageRequest(request: Request, path: string): boolean {
  if (request.method !== 'GET' || !request.headers.get('accept')?.includes('text/html')) return false;
  const { pathname } = new URL(request.url);
  return pathname === path || pathname === `${path}/`;
}

/** Matches an If-None-Match list (`"a", W/"b"`, or `*`) against our strong ETag. */
function matches(ifNoneMatch: string | null, etag: string): boolean {
  if (ifNoneMatch === null) return false;
  return ifNoneMatch.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === etag || t === `W/${etag}`;
  });
}

interface Page {
  body: Buffer<ArrayBuffer>;
  headers: Record<string, string>;
}

async function renderPage(options: GraphiQLOptions): Promise<Page> {
  const { renderGraphiQL } = await import('@graphql-yoga/render-graphiql');
  const body = Buffer.from(String(await renderGraphiQL(options)));
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
  const headers = {
    etag,
    // Revalidated on every load (cheap: a 304), so a new version of the server shows at once.
    'cache-control': 'no-cache',
    'content-security-policy': graphiqlContentSecurityPolicy,
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
  return { body, headers };
}

/**
 * Serves the GraphiQL page at `path`, rendered once on the first request for it (concurrent first
 * requests share that rendering); use with yoga's own `graphiql: false`.
 */
export function cachedGraphiQL(path: string, options: GraphiQLOptions): Plugin {
  let page: Promise<Page> | undefined;
  return {
    async onRequest({ request, fetchAPI, endResponse }) {
      if (!isPageRequest(request, path)) return;
      // A failed rendering is not remembered: the next request tries again.
      page ??= renderPage(options).catch((error: unknown) => {
        page = undefined;
        throw error;
      });
      const { body, headers } = await page;
      if (matches(request.headers.get('if-none-match'), headers['etag']!)) {
        endResponse(new fetchAPI.Response(null, { status: 304, headers }));
        return;
      }
      endResponse(
        new fetchAPI.Response(body, {
          status: 200,
          headers: { ...headers, 'content-type': 'text/html; charset=utf-8', 'content-length': String(body.length) },
        }),
      );
    },
  };
}
