/**
 * Trusted documents (TRUSTED_DOCUMENTS): the apps send the hash of one of the SDK's operations
 * (`extensions.persistedQuery { version: 1, sha256Hash }`, as Apollo's and urql's persisted-query links
 * do) and the server runs its own copy of the text. The SDK's manifest is made by codegen
 * (src/sdk/generated/persisted-documents.json); an app with operations of its own adds its manifests.
 *   off:   hashes are not read; text only.
 *   allow: a hash or text (the default: GraphiQL and curl keep working).
 *   only:  a hash of a trusted document, nothing else: no caller can run a document the apps do not.
 * HTTP and SSE go through yoga's persisted-operations plugin; graphql-ws operations, which do not pass
 * through yoga's request pipeline, through resolve(), with the same answers.
 */
import { readFileSync } from 'node:fs';
import { GraphQLError, parse } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import sdkManifest from '../sdk/generated/persisted-documents.json' with { type: 'json' };
import { ErrorCode } from '../errors.js';

export type TrustedDocumentsMode = 'off' | 'allow' | 'only';

/** What a client sends: the text, and/or the hash in extensions. */
export interface OperationPayload {
  query?: unknown;
  extensions?: unknown;
}

export interface TrustedDocuments {
  mode: TrustedDocumentsMode;
  /** How many documents are trusted. */
  size: number;
  /** The trusted texts (graphql-jit compiles these whatever else it is sent: src/transport/lazy-jit.ts). */
  texts(): Iterable<string>;
  /** The yoga plugins that apply the mode to HTTP and SSE requests. */
  plugins(): Plugin[];
  /** The text to run for a graphql-ws operation, or the error that refuses it. */
  resolve(payload: OperationPayload): string | GraphQLError;
}

/**
 * A request with nothing to run is a 400 over HTTP, as yoga answers one with no query (`http` never
 * reaches the client); a refused document is a 200 with errors, like one that fails validation (an SSE
 * client then reads the error as an event).
 */
const refusal = (message: string, reason: string, http: boolean) =>
  new GraphQLError(message, { extensions: { code: ErrorCode.BadUserInput, reason, ...(http ? { http: { status: 400 } } : {}) } });
const notFound = () =>
  refusal(
    'The hash in extensions.persistedQuery is not one of this service\'s trusted documents: send a hash from the SDK\'s persisted-documents.json.',
    'PERSISTED_QUERY_NOT_FOUND',
    false,
  );
const onlyHashes = () =>
  refusal(
    'This service runs only trusted documents: send extensions.persistedQuery { version: 1, sha256Hash } of one of the SDK\'s operations instead of the text.',
    'PERSISTED_QUERY_ONLY',
    false,
  );
const nothingToRun = (http = false) =>
  refusal('Send a query, or extensions.persistedQuery { version: 1, sha256Hash } of a trusted document.', 'PERSISTED_QUERY_ID_REQUIRED', http);

/** codegen writes "sha256:<hex>"; Apollo's and urql's links send the bare hex: both are accepted. */
const bareHash = (hash: string) => (hash.startsWith('sha256:') ? hash.slice('sha256:'.length) : hash);

/** The hash a payload names (extensions.persistedQuery, Apollo's format), or null. */
function hashOf(extensions: unknown): string | null {
  if (typeof extensions !== 'object' || extensions === null) return null;
  const persisted = (extensions as Record<string, unknown>)['persistedQuery'];
  if (typeof persisted !== 'object' || persisted === null) return null;
  const { version, sha256Hash } = persisted as Record<string, unknown>;
  return version === 1 && typeof sha256Hash === 'string' ? sha256Hash : null;
}

/** Reads a manifest ({ hash: text }); every text must parse, or the service does not start. */
function readManifest(path: string): Record<string, string> {
  let manifest: unknown;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`TRUSTED_DOCUMENTS_MANIFESTS: ${path} cannot be read as JSON (${(error as Error).message})`);
  }
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) {
    throw new Error(`TRUSTED_DOCUMENTS_MANIFESTS: ${path} must be an object of hash -> document text`);
  }
  for (const [hash, text] of Object.entries(manifest)) {
    if (typeof text !== 'string') throw new Error(`TRUSTED_DOCUMENTS_MANIFESTS: ${path}: the document of ${hash} is not a string`);
    try {
      parse(text);
    } catch (error) {
      throw new Error(`TRUSTED_DOCUMENTS_MANIFESTS: ${path}: the document of ${hash} does not parse (${(error as Error).message})`);
    }
  }
  return manifest as Record<string, string>;
}

export function trustedDocuments(mode: TrustedDocumentsMode, manifestPaths: readonly string[] = []): TrustedDocuments {
  const documents = new Map<string, string>();
  for (const manifest of [sdkManifest as Record<string, string>, ...manifestPaths.map(readManifest)]) {
    for (const [hash, text] of Object.entries(manifest)) documents.set(bareHash(hash), text);
  }
  const lookup = (hash: string) => documents.get(bareHash(hash)) ?? null;

  return {
    mode,
    size: documents.size,
    texts: () => documents.values(),
    plugins: () =>
      mode === 'off'
        ? []
        : [
            usePersistedOperations({
              getPersistedOperation: lookup,
              allowArbitraryOperations: mode === 'allow',
              customErrors: { notFound, persistedQueryOnly: onlyHashes, keyNotFound: () => nothingToRun(true) },
            }),
          ],
    resolve(payload) {
      const text = typeof payload.query === 'string' && payload.query !== '' ? payload.query : null;
      if (mode === 'off') return text ?? '';
      if (text !== null) return mode === 'only' ? onlyHashes() : text;
      const hash = hashOf(payload.extensions);
      if (hash === null) return nothingToRun();
      return lookup(hash) ?? notFound();
    },
  };
}
