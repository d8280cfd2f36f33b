import { createMemoryAdapters } from '../../src/adapters/memory-room-store.js';
import { MemoryResolutionOutbox } from '../../src/adapters/memory-resolution-outbox.js';
import { resolutionOutboxContract } from './resolution-outbox.contract.js';
import { contractStoreOptions } from './room-store.contract.js';

resolutionOutboxContract('memory', async () => {
  const outbox = new MemoryResolutionOutbox();
  const { store, events } = createMemoryAdapters({ ...contractStoreOptions, outbox });
  return { store, outbox, cleanup: async () => (await store.close(), events.close()) };
});
