/** The outbox entry keys the Cluster repair pass looks for (src/adapters/redis-keys.ts). */
import { describe, expect, it } from 'vitest';
import { redisKeys } from '../../src/adapters/redis-keys.js';

describe('outbox entry keys', () => {
  it('parses an entry key back into its room and epoch, and nothing else', () => {
    const keys = redisKeys('cr:');
    expect(keys.parseOutboxEntry(keys.outboxEntry('tx:1', 'e-1'))).toEqual({ transactionId: 'tx:1', epoch: 'e-1' });
    for (const other of [keys.room('tx'), keys.outboxDue, keys.request('tx', 'u', 'r:outbox:x'), 'other:{tx}:outbox:e', 'cr:{tx}:outbox:']) {
      expect(keys.parseOutboxEntry(other)).toBeNull();
    }
  });

  it('spells a SCAN pattern in which the prefix matches only itself', () => {
    expect(redisKeys('cr:').outboxEntryPattern).toBe('cr:{*}:outbox:*');
    expect(redisKeys('a*b?[c]:').outboxEntryPattern).toBe('a\\*b\\?\\[c\\]:{*}:outbox:*');
  });
});
