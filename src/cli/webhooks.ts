/**
 * Failed resolution webhooks, for operators: `npm run webhooks -- failed` lists them (one JSON per
 * line, the latest failure first); `npm run webhooks -- retry <key>` puts one back to be delivered
 * from attempt 1. Reads the same environment as the service (REDIS_URL or REDIS_CLUSTER_NODES,
 * REDIS_KEY_PREFIX).
 */
import { once } from 'node:events';
import { ClusterResolutionOutbox } from '../adapters/redis-cluster-outbox.js';
import { createRedisConnections } from '../adapters/redis-connections.js';
import { redisKeys } from '../adapters/redis-keys.js';
import { RedisResolutionOutbox } from '../adapters/redis-resolution-outbox.js';
import { ConfigError, loadConfig } from '../config.js';

async function main(args: string[]): Promise<number> {
  const config = loadConfig(process.env);
  if (!config.redis.url && !config.redis.clusterNodes) {
    console.error('Neither REDIS_URL nor REDIS_CLUSTER_NODES is set: the embedded store keeps its outbox inside the running process (App.webhooks).');
    return 2;
  }
  // The service's own connections: the command client fails fast, so wait until it is ready.
  const connections = createRedisConnections(config.redis);
  const { client } = connections;
  try {
    if (client.status !== 'ready') {
      const timeout = AbortSignal.timeout(5000);
      await once(client, 'ready', { signal: timeout }).catch(() => {
        throw new Error('Redis did not answer within 5 s');
      });
    }
    const options = { client, keys: redisKeys(config.redis.keyPrefix), ttlSeconds: config.room.ttlSeconds, timeoutMs: config.redis.timeoutMs };
    const outbox = connections.cluster ? new ClusterResolutionOutbox(options) : new RedisResolutionOutbox(options);
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
    connections.disconnect();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  },
);
