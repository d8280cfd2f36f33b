import { describe, expect, it } from 'vitest';
import { MemoryPresenceStore } from '../../src/adapters/memory-presence-store.js';
import { presenceStoreContract } from './presence-store.contract.js';

presenceStoreContract('memory', async () => ({ store: new MemoryPresenceStore(), cleanup: async () => undefined }));

describe('memory presence store only', () => {
  it('seqs outrank the clock: a flip after a restart of the store still beats every older mark', async () => {
    const clock = { now: 1_700_000_000_000 };
    const before = new MemoryPresenceStore({ clock: () => clock.now });
    const old = (await before.hold('tx', 'alice', 'A')).mark.seq;
    clock.now += 1;
    const after = new MemoryPresenceStore({ clock: () => clock.now });
    expect((await after.hold('tx', 'alice', 'A')).mark.seq).toBeGreaterThan(old);
  });
});
