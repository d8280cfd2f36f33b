import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // Node loads graphql 16's CommonJS build for every dependency; Vite would pick its .mjs build for
    // our sources, and two copies of graphql cannot share a schema.
    alias: { graphql: require.resolve('graphql') },
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Finds a Redis (REDIS_URL, else 127.0.0.1:6379) or starts redis-server, and provides its URL.
    globalSetup: ['test/utils/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
