/**
 * Tests that need Redis never skip: they get the URL from here. REDIS_URL if set, else the Redis these
 * machines run at 127.0.0.1:6379, else a redis-server started for this run (and stopped after it).
 */
import 'vitest';
import type { TestProject } from 'vitest/node';
import { type RedisProcess, redisAnswers, startRedisServer } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

let started: RedisProcess | undefined;

export async function setup(project: TestProject): Promise<void> {
  const candidate = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  if (await redisAnswers(candidate)) {
    project.provide('redisUrl', candidate);
    return;
  }
  if (process.env.REDIS_URL) {
    throw new Error(`REDIS_URL=${process.env.REDIS_URL} does not answer PING; start that Redis or unset REDIS_URL.`);
  }
  started = await startRedisServer();
  project.provide('redisUrl', started.url);
}

export async function teardown(): Promise<void> {
  await started?.stop();
}
