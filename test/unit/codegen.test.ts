/** The SDK's generated documents are what codegen makes of schema.graphql and the operations today. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('src/sdk/generated', () => {
  it('is fresh (run `npm run codegen` after changing schema.graphql or src/sdk/operations)', async () => {
    const result = await promisify(execFile)(process.execPath, ['node_modules/@graphql-codegen/cli/cjs/bin.js', '--config', 'codegen.ts', '--check'], {
      cwd: root,
      env: { ...process.env, NODE_OPTIONS: '--import=tsx' },
    }).then(
      () => 0,
      (error: { code?: number; stdout?: string; stderr?: string }) => {
        console.error(error.stdout, error.stderr);
        return error.code ?? 1;
      },
    );
    expect(result).toBe(0);
  }, 60_000);
});
