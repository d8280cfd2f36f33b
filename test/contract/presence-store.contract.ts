/**
 * The PresenceStore contract, run against every adapter (memory, and Redis on a real redis-server):
 * holds counted per owner, flips with growing seqs, heartbeats, claims, sweeps and forgetting.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PresenceStore } from '../../src/ports/presence-store.js';

export interface PresenceContractAdapters {
  store: PresenceStore;
  cleanup(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function presenceStoreContract(name: string, makeAdapters: () => Promise<PresenceContractAdapters>): void {
  describe(`PresenceStore contract: ${name}`, () => {
    let store: PresenceStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await makeAdapters());
    });
    afterEach(async () => cleanup());

    describe('holds', () => {
      it('a user never held reads offline with seq 0', async () => {
        expect(await store.read('tx', ['nobody', 'none'])).toEqual([
          { online: false, seq: 0 },
          { online: false, seq: 0 },
        ]);
        expect(await store.read('tx', [])).toEqual([]);
      });

      it('the first hold flips online; a second owner and a repeated hold do not; only the last release flips offline', async () => {
        const first = await store.hold('tx', 'alice', 'A');
        expect(first).toMatchObject({ flipped: true, mark: { online: true } });
        expect(first.mark.seq).toBeGreaterThan(0);
        expect(await store.hold('tx', 'alice', 'A')).toEqual({ flipped: false, mark: first.mark });
        expect(await store.hold('tx', 'alice', 'B')).toEqual({ flipped: false, mark: first.mark });
        expect(await store.release('tx', 'alice', 'A')).toEqual({ flipped: false, mark: first.mark });
        const last = await store.release('tx', 'alice', 'B');
        expect(last).toMatchObject({ flipped: true, mark: { online: false } });
        expect(last.mark.seq).toBeGreaterThan(first.mark.seq);
        expect(await store.read('tx', ['alice'])).toEqual([last.mark]);
      });

      it('seqs grow with every flip, across users and after the user was offline', async () => {
        const seqs: number[] = [];
        for (let i = 0; i < 5; i++) {
          seqs.push((await store.hold('tx', 'alice', 'A')).mark.seq);
          seqs.push((await store.release('tx', 'alice', 'A')).mark.seq);
        }
        expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
        expect(new Set(seqs).size).toBe(seqs.length);
      });

      it('a release of a hold the store lost settles the user offline with a newer seq, unless someone else holds them', async () => {
        const held = await store.hold('tx', 'alice', 'A');
        await store.hold('tx', 'alice', 'B');
        // B's hold was lost (the store forgot it), A's is still there: nothing flips.
        await store.release('tx', 'alice', 'B');
        expect(await store.release('tx', 'alice', 'B')).toEqual({ flipped: false, mark: held.mark });
        const last = await store.release('tx', 'alice', 'A');
        expect(last).toMatchObject({ flipped: true, mark: { online: false } });
        // Released again (a retry after a lost reply): a new offline mark, newer than any before.
        const again = await store.release('tx', 'alice', 'A');
        expect(again).toMatchObject({ flipped: true, mark: { online: false } });
        expect(again.mark.seq).toBeGreaterThan(last.mark.seq);
        expect((await store.release('tx', 'ghost', 'A')).mark).toMatchObject({ online: false });
      });

      it('rooms and users are apart: a user id with a colon does not meet another user', async () => {
        await store.hold('tx', 'a:b', 'A');
        expect(await store.read('tx', ['a', 'a:b', 'b'])).toMatchObject([{ online: false }, { online: true }, { online: false }]);
        expect(await store.read('tx-2', ['a:b'])).toEqual([{ online: false, seq: 0 }]);
        // An owner whose name ends like another's holds is not that owner.
        expect(await store.releaseOwner('tx', 'b:A')).toEqual([]);
        expect(await store.read('tx', ['a:b'])).toMatchObject([{ online: true }]);
      });
    });

    describe('owners', () => {
      it('a registered owner beats; an unknown one does not', async () => {
        await store.register('A');
        expect(await store.heartbeat('A')).toBe(true);
        expect(await store.heartbeat('never-registered')).toBe(false);
      });

      it('claims an owner without a heartbeat for staleMs, once, and its heartbeats then fail', async () => {
        // Periods long enough that a loaded machine does not make a fresh beat look stale.
        await store.register('dead');
        await store.register('alive');
        await sleep(600);
        expect(await store.heartbeat('alive')).toBe(true);
        expect(await store.claimStale(400, 10)).toEqual(['dead']);
        // Claimed: nobody else gets it while the claim is fresh, and the owner cannot beat again.
        expect(await store.claimStale(400, 10)).toEqual([]);
        expect(await store.heartbeat('dead')).toBe(false);
        // A claim that is not finished (the sweeper died) is claimed again once it is stale.
        await sleep(600);
        expect((await store.claimStale(400, 10)).sort()).toEqual(['alive', 'dead']);
      });

      it('claims at most `max` at a time', async () => {
        for (const owner of ['o1', 'o2', 'o3']) await store.register(owner);
        await sleep(600);
        const first = await store.claimStale(400, 2);
        expect(first).toHaveLength(2);
        const second = await store.claimStale(400, 2);
        expect([...first, ...second].sort()).toEqual(['o1', 'o2', 'o3']);
      });

      it('lists the rooms an owner held someone in, until they are dropped or the owner is forgotten', async () => {
        await store.register('A');
        await store.hold('tx-1', 'alice', 'A');
        await store.hold('tx-2', 'bob', 'A');
        await store.hold('tx-3', 'carol', 'B');
        expect((await store.roomsOf('A')).sort()).toEqual(['tx-1', 'tx-2']);
        await store.release('tx-2', 'bob', 'A');
        await store.dropRoom('A', 'tx-2');
        expect(await store.roomsOf('A')).toEqual(['tx-1']);
        await store.forget('A');
        expect(await store.roomsOf('A')).toEqual([]);
        expect(await store.heartbeat('A')).toBe(false);
        expect(await store.roomsOf('B')).toEqual(['tx-3']);
      });

      it('releasing an owner flips exactly the users only it held, once, and leaves the others', async () => {
        await store.hold('tx', 'alice', 'dead');
        await store.hold('tx', 'bob', 'dead');
        await store.hold('tx', 'bob', 'alive');
        await store.hold('tx', 'carol', 'alive');
        const before = await store.read('tx', ['alice', 'bob', 'carol']);
        expect((await store.releaseOwner('tx', 'dead')).sort()).toEqual(['alice']);
        expect(await store.releaseOwner('tx', 'dead')).toEqual([]);
        const after = await store.read('tx', ['alice', 'bob', 'carol']);
        expect(after[0]).toMatchObject({ online: false });
        expect(after[0]!.seq).toBeGreaterThan(before[0]!.seq);
        expect(after.slice(1)).toEqual(before.slice(1));
        // The survivor's hold still counts: releasing it flips bob offline.
        expect(await store.release('tx', 'bob', 'alive')).toMatchObject({ flipped: true, mark: { online: false } });
      });

      it('a forgotten owner can be registered again (a clean restart keeps nothing of it)', async () => {
        await store.register('A');
        await store.forget('A');
        expect(await store.heartbeat('A')).toBe(false);
        await store.register('A');
        expect(await store.heartbeat('A')).toBe(true);
      });
    });
  });
}
