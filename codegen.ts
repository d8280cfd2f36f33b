/**
 * Typed documents for the SDK, from the committed schema.graphql and the operations the SDK ships.
 * `npm run codegen` writes src/sdk/generated/ (never edit it by hand); a test fails when it is stale.
 */
import type { CodegenConfig } from '@graphql-codegen/cli';
import { addTypenameSelectionDocumentTransform } from '@graphql-codegen/client-preset';

const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['src/sdk/operations/*.graphql'],
  ignoreNoDocuments: false,
  generates: {
    // Apollo Client's InMemoryCache needs to know the event types behind the ConflictRoomEvent interface.
    'src/sdk/generated/possible-types.ts': {
      plugins: ['fragment-matcher'],
      config: { apolloClientVersion: 3, useExplicitTyping: true },
    },
    'src/sdk/generated/': {
      preset: 'client',
      // persistedDocuments: persisted-documents.json (hash -> text) for TRUSTED_DOCUMENTS, and each
      // document carries its hash as __meta__.hash for the clients that send hashes instead of text.
      presetConfig: { fragmentMasking: false, gqlTagName: 'graphql', persistedDocuments: true },
      // __typename in every selection, as Apollo's and urql's caches add it to what they send: a client
      // sending only a hash gets the selection its cache needs from the server's copy of the text.
      documentTransforms: [addTypenameSelectionDocumentTransform],
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: 'string', ID: 'string' },
        avoidOptionals: { field: true, inputValue: false, object: true, defaultValue: false },
        importExtension: '.js',
        documentMode: 'documentNodeImportFragments',
      },
    },
  },
};

export default config;
