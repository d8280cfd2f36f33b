/**
 * Typed documents for the SDK, from the committed schema.graphql and the operations the SDK ships.
 * `npm run codegen` writes src/sdk/generated/ (never edit it by hand); a test fails when it is stale.
 */
import type { CodegenConfig } from '@graphql-codegen/cli';

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
      presetConfig: { fragmentMasking: false, gqlTagName: 'graphql' },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: 'string', ID: 'string' },
        avoidOptionals: { field: true, inputValue: false, object: true, defaultValue: false },
        importExtension: '.js',
        documentMode: 'documentNode',
      },
    },
  },
};

export default config;
