/**
 * Load generator for the throughput scenario: subscribers (3 per room) and/or one closed-loop writer
 * per room. Same commands as fanout (pubsub.ts); the orchestrator asks for ratePerSecond 0.
 */
import { serve } from './ipc.js';
import { pubsubHandlers } from './pubsub.js';

const { handlers, close } = pubsubHandlers();
serve(handlers, close);
