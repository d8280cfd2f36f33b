/**
 * Load generator for the fanout scenario: subscribers to one room (this process's share of them),
 * and/or the room's one writer selecting at a fixed rate. See pubsub.ts for the commands.
 */
import { serve } from './ipc.js';
import { pubsubHandlers } from './pubsub.js';

const { handlers, close } = pubsubHandlers();
serve(handlers, close);
