/**
 * The two Redis connections of an instance, for a single Redis (REDIS_URL) or a Redis Cluster
 * (REDIS_CLUSTER_NODES): a command client that fails fast while Redis is away, and a subscriber that
 * queues its (un)subscribes and subscribes again by itself. The adapters take them as `Redis | Cluster`
 * and use only what both have.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../logger.js';

export interface RedisConnectionsOptions {
  /** REDIS_URL, or null with clusterNodes. */
  url: string | null;
  /** REDIS_CLUSTER_NODES as host:port seeds, or null with url. */
  clusterNodes: string[] | null;
  /** STORE_TIMEOUT_MS: a command unanswered this long fails. */
  timeoutMs: number;
}

export interface RedisConnections {
  client: Redis | Cluster;
  subscriber: Redis | Cluster;
  /** True on a Redis Cluster: sharded pub/sub (SPUBLISH, SSUBSCRIBE), one script per slot. */
  cluster: boolean;
  /** Disconnects both, without waiting for replies. */
  disconnect(): void;
}

const common: RedisOptions = {
  connectTimeout: 2000,
  // Keep trying, at most a second apart, so the service recovers by itself when Redis is back.
  retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
};

export function createRedisConnections(options: RedisConnectionsOptions, logger?: Logger): RedisConnections {
  const { client, subscriber } = options.clusterNodes ? clusterConnections(options.clusterNodes, options.timeoutMs) : single(options);
  for (const [name, connection] of [['command', client], ['subscriber', subscriber]] as const) {
    let down = false;
    connection.on('error', (error: Error) => {
      if (!down) logger?.warn({ connection: name, err: error.message }, 'Redis connection lost; retrying');
      down = true;
    });
    connection.on('ready', () => {
      if (down) logger?.info({ connection: name }, 'Redis connection back');
      down = false;
    });
  }
  return {
    client,
    subscriber,
    cluster: !!options.clusterNodes,
    disconnect: () => {
      client.disconnect();
      subscriber.disconnect();
    },
  };
}

function single({ url, timeoutMs }: RedisConnectionsOptions): { client: Redis; subscriber: Redis } {
  if (!url) throw new Error('createRedisConnections: neither url nor clusterNodes');
  // Commands fail at once while Redis is away, and after timeoutMs when it does not answer.
  const client = new Redis(url, {
    ...common,
    enableOfflineQueue: false,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // Commands issued in the same tick (many rooms writing at once) share one socket write.
    enableAutoPipelining: true,
  });
  // The subscriber queues (un)subscribes while away and re-subscribes its channels when back.
  const subscriber = new Redis(url, { ...common, maxRetriesPerRequest: null });
  return { client, subscriber };
}

function clusterConnections(nodes: string[], timeoutMs: number): { client: Cluster; subscriber: Cluster } {
  const seeds = nodes.map((node) => {
    const at = node.lastIndexOf(':');
    return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
  });
  const shared = {
    // A node that went away is dropped and the slot map read again; retries then follow MOVED.
    clusterRetryStrategy: (attempt: number) => Math.min(100 * attempt, 1000),
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    slotsRefreshTimeout: 1000,
    // A restarted node on the same address (no failover) is found again without a MOVED.
    clusterNodeRetryStrategy: (attempt: number) => Math.min(100 * attempt, 1000),
  };
  // Cluster-level retries (MOVED, CLUSTERDOWN, TRYAGAIN) can outlast one node's commandTimeout: the
  // adapters bound every call by timeoutMs themselves as well (storeCall).
  const client = new Cluster(seeds, {
    ...shared,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    redisOptions: { connectTimeout: 2000, commandTimeout: timeoutMs, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false },
  });
  // One subscriber connection per master (ioredis's sharded subscriber group): an SSUBSCRIBE goes to
  // the master of the channel's slot, and the group subscribes again after a failover moves the slot.
  const subscriber = new Cluster(seeds, {
    ...shared,
    shardedSubscribers: true,
    redisOptions: { connectTimeout: 2000 },
  });
  return { client, subscriber };
}
