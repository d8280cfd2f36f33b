/** `npm test`'s pretest: on a machine without what the tests need, and no way to install it, it stops at once with the command. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../../scripts/test-prerequisites.mjs', import.meta.url));

describe('scripts/test-prerequisites.mjs', () => {
  it('without redis-server, chromium or apt-get on PATH: exit 1 and the one command to run', () => {
    // A PATH with node alone on it: no redis-server, no chromium, no apt-get.
    const bin = mkdtempSync(join(tmpdir(), 'cr-path-'));
    symlinkSync(process.execPath, join(bin, 'node'));
    let result;
    try {
      result = spawnSync(process.execPath, [script], { env: { PATH: bin, REDIS_URL: 'redis://127.0.0.1:1' }, encoding: 'utf8', timeout: 10_000 });
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/sudo apt-get install -y redis-server/);
  });

  it('with redis-server but without redis-cli: exit 1 and the command that installs redis-tools', () => {
    const bin = mkdtempSync(join(tmpdir(), 'cr-path-'));
    symlinkSync(process.execPath, join(bin, 'node'));
    // Only its presence on PATH is checked, so any executable does.
    symlinkSync(process.execPath, join(bin, 'redis-server'));
    let result;
    try {
      result = spawnSync(process.execPath, [script], { env: { PATH: bin, REDIS_URL: 'redis://127.0.0.1:1' }, encoding: 'utf8', timeout: 10_000 });
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/redis-cli \(redis-tools\)/);
    expect(result.stderr).toMatch(/sudo apt-get install -y redis-tools\n/);
  });

  it('on this machine (CI installs what is missing): exit 0', () => {
    const result = spawnSync(process.execPath, [script], { env: process.env, encoding: 'utf8', timeout: 120_000 });
    expect(result.status).toBe(0);
  });
});
