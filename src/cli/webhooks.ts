/**
 * Failed resolution webhooks, for operators: `npm run webhooks -- failed` lists them (one JSON per
 * line, the latest failure first); `npm run webhooks -- retry <key>` puts one back to be delivered
 * from attempt 1. Reads the same environment as the service (REDIS_URL, REDIS_KEY_PREFIX).
 */
import { Redis } from 'ioredis';
import { redisKeys } from '../adapters/redis-keys.js';
import { RedisResolutionOutbox } from '../adapters/redis-resolution-outbox.js';
import { ConfigError, loadConfig } from '../config.js';

async function main(args: string[]): Promise<number> {
  const config = loadConfig(process.env);
  if (!config.redis.url) {
    console.error('REDIS_URL is not set: the embedded store keeps its outbox inside the running process (App.webhooks).');
    return 2;
  }
  const client = new Redis(config.redis.url, { maxRetriesPerRequest: 1 });
  try {
    const outbox = new RedisResolutionOutbox({ client, keys: redisKeys(config.redis.keyPrefix), ttlSeconds: config.room.ttlSeconds });
    const [command, key] = args;
    if (command === 'failed') {
      for (const failed of await outbox.listFailed(Number(key ?? 1000))) console.log(JSON.stringify(failed));
      console.error(`${await outbox.pendingCount()} deliveries still pending`);
      return 0;
    }
    if (command === 'retry' && key) {
      const requeued = await outbox.requeue(key);
      console.log(requeued ? `requeued ${key}` : `no failed delivery ${key}`);
      return requeued ? 0 : 1;
    }
    console.error('usage: npm run webhooks -- failed [max] | retry <key>   (key as listed, e.g. \'["tx-1","<epoch>"]\')');
    return 2;
  } finally {
    client.disconnect();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  },
);
