/** Cleanups a test registers as it starts things (servers, sockets, Redis processes); run after each test, newest first. */
import { afterEach } from 'vitest';

export function cleanupsAfterEach(): Array<() => Promise<unknown>> {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    // One that fails (its process already gone) must not keep the others from running.
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });
  return cleanups;
}
