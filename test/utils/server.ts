/** Starts the real server (buildApp, real HTTP and WebSocket) on a free port, with a key prefix of its own. */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { type App, buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { deleteUnder } from './redis-server.js';

export interface TestServer {
  app: App;
  /** http://127.0.0.1:port/graphql */
  url: string;
  /** ws://127.0.0.1:port/graphql */
  wsUrl: string;
  stop(): Promise<void>;
}

/** http://host:port of a GraphQL URL (http://host:port/graphql): where /health, /ready and /metrics are. */
export const serverBase = (url: string) => url.replace(/\/graphql$/, '');

/** A fresh key prefix, so tests never see (or delete) anyone else's keys. */
export const testPrefix = (name = 'test') => `crtest:${name}:${randomUUID().slice(0, 8)}:`;

/**
 * @param env environment overrides; set REDIS_URL for the Redis store (two servers with the same
 * REDIS_URL and REDIS_KEY_PREFIX are two instances of one service).
 */
export async function startServer(env: Record<string, string> = {}): Promise<TestServer> {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', RATE_LIMIT_PER_SECOND: '0', ...env });
  const app = await buildApp(config, createLogger(process.env.TEST_LOG_LEVEL ?? config.logLevel));
  const { url } = await app.start();
  let stopped = false;
  return {
    app,
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await app.stop();
    },
  };
}

/** Deletes the keys under `prefix` (and only those) from the Redis at `url`. */
export async function deletePrefix(url: string, prefix: string): Promise<void> {
  const client = new Redis(url);
  try {
    await deleteUnder(client, prefix);
  } finally {
    client.disconnect();
  }
}

/** `count` instances of one service on the Redis at `redisUrl`, sharing a fresh key prefix. */
export async function startCluster(redisUrl: string, count: number, env: Record<string, string> = {}) {
  const prefix = testPrefix('e2e');
  const servers: TestServer[] = [];
  for (let i = 0; i < count; i++) servers.push(await startServer({ REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, ...env }));
  return {
    servers,
    prefix,
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
      await deletePrefix(redisUrl, prefix);
    },
  };
}
