/**
 * The ResolutionOutbox contract (src/ports/resolution-outbox.ts), run against every adapter. Entries
 * come from real commits: the store records a resolution in the commit that resolves the room.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolutionBody, webhookIdOf } from '../../src/domain/resolution.js';
import type { ResolutionOutbox } from '../../src/ports/resolution-outbox.js';
import type { RoomStore } from '../../src/ports/room-store.js';
import { RoomDriver } from './room-store.contract.js';

export interface OutboxAdapters {
  /** Built to record resolutions. */
  store: RoomStore;
  outbox: ResolutionOutbox;
  cleanup(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function resolutionOutboxContract(name: string, make: () => Promise<OutboxAdapters>): void {
  describe(`ResolutionOutbox contract: ${name}`, () => {
    let store: RoomStore;
    let outbox: ResolutionOutbox;
    let adapters: OutboxAdapters;
    beforeEach(async () => {
      adapters = await make();
      ({ store, outbox } = adapters);
    });
    afterEach(() => adapters.cleanup());

    async function resolve(transactionId: string): Promise<RoomDriver> {
      const room = await RoomDriver.open(store, transactionId);
      await room.join('u1');
      await room.join('u2');
      await room.select('u1', 'price', '45000');
      await room.apply('u1', { kind: 'setReady', isReady: true });
      expect(await outbox.pendingCount()).toBe(0);
      await room.apply('u2', { kind: 'setReady', isReady: true });
      expect(room.room.status).toBe('RESOLVED');
      return room;
    }

    it('records a resolution in the commit that resolves, and only then; one holder at a time', async () => {
      const room = await resolve('tx-out-1');
      const agreement = room.room.agreement!;
      expect(await outbox.pendingCount()).toBe(1);
      // Two instances claiming at once: one gets it.
      const [a, b] = await Promise.all([outbox.claimDue(10, 5000), outbox.claimDue(10, 5000)]);
      const claims = [...a!, ...b!];
      expect(claims).toEqual([
        {
          key: expect.any(String),
          transactionId: 'tx-out-1',
          epoch: room.room.epoch,
          webhookId: webhookIdOf(agreement),
          body: resolutionBody(agreement),
          attempt: 1,
          lease: expect.any(Number),
        },
      ]);
      expect(await outbox.claimDue(10, 5000)).toEqual([]);
      expect(await outbox.delivered(claims[0]!)).toBe(true);
      expect(await outbox.pendingCount()).toBe(0);
      expect(await outbox.claimDue(10, 0)).toEqual([]);
      // Presence after the resolution writes the room again, and records nothing more.
      await room.apply('u1', { kind: 'presence', marks: [{ userId: 'u1', online: true, seq: 1 }] });
      expect(await outbox.pendingCount()).toBe(0);
    });

    it('retries with the same id and body, counting attempts; a settle with a replaced lease does nothing', async () => {
      await resolve('tx-out-2');
      const [first] = await outbox.claimDue(10, 5000);
      expect(await outbox.retryLater(first!, 0, 'HTTP 500')).toBe(true);
      const [second] = await outbox.claimDue(10, 5000);
      expect(second).toEqual({ ...first, attempt: 2, lease: second!.lease });
      expect(await outbox.delivered(first!)).toBe(false);
      expect(await outbox.retryLater(second!, 60_000, 'HTTP 500')).toBe(true);
      expect(await outbox.claimDue(10, 5000)).toEqual([]);
      expect(await outbox.pendingCount()).toBe(1);
    });

    it('hands a delivery whose lease ended to the next claimer; the old holder can no longer settle it', async () => {
      await resolve('tx-out-3');
      const [held] = await outbox.claimDue(10, 100);
      expect(await outbox.claimDue(10, 100)).toEqual([]);
      await sleep(250);
      const [taken] = await outbox.claimDue(10, 5000);
      expect(taken).toMatchObject({ key: held!.key, webhookId: held!.webhookId, attempt: 2 });
      expect(await outbox.delivered(held!)).toBe(false);
      expect(await outbox.failed(held!, 'late')).toBe(false);
      expect(await outbox.delivered(taken!)).toBe(true);
    });

    it('keeps a failed delivery listed until it is requeued, then delivers it from attempt 1', async () => {
      const room = await resolve('tx-out-4');
      const [claim] = await outbox.claimDue(10, 5000);
      expect(await outbox.failed(claim!, 'HTTP 503')).toBe(true);
      expect(await outbox.pendingCount()).toBe(0);
      expect(await outbox.claimDue(10, 0)).toEqual([]);
      const failed = await outbox.listFailed(10);
      expect(failed).toEqual([
        {
          key: claim!.key,
          transactionId: 'tx-out-4',
          epoch: room.room.epoch,
          webhookId: claim!.webhookId,
          attempts: 1,
          failedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          lastError: 'HTTP 503',
        },
      ]);
      expect(await outbox.requeue('["nope","x"]')).toBe(false);
      expect(await outbox.requeue(claim!.key)).toBe(true);
      expect(await outbox.listFailed(10)).toEqual([]);
      const [again] = await outbox.claimDue(10, 5000);
      expect(again).toMatchObject({ key: claim!.key, attempt: 1, body: claim!.body });
    });
  });
}
