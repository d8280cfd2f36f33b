/**
 * Mutations per user: with Redis, one budget shared by every instance (RateLimiterRedis on the command
 * connection); without it, per process (RateLimiterMemory). Over budget: RATE_LIMITED with retryAfterMs.
 */
import type { Cluster, Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { DomainError, ErrorCode, StoreUnavailableError } from '../errors.js';

/** Throws RATE_LIMITED when the user has used up their mutations. */
export type RateLimit = (userId: string) => Promise<void>;

export interface RateLimitOptions {
  /** Sustained mutations a second per user (0: no limit). */
  perSecond: number;
  /** Mutations allowed at once; the window is burst / perSecond seconds (at least 1). */
  burst: number;
  /** Share the budget across instances through this Redis, under `keyPrefix`. */
  redis?: { client: Redis | Cluster; keyPrefix: string } | undefined;
}

export function createRateLimit({ perSecond, burst, redis }: RateLimitOptions): RateLimit {
  if (perSecond <= 0) return async () => undefined;
  const window = { points: burst, duration: Math.max(1, Math.round(burst / perSecond)) };
  const limiter = redis
    ? // Fails at once while Redis is away (the command connection has no offline queue either).
      new RateLimiterRedis({ ...window, storeClient: redis.client, keyPrefix: redis.keyPrefix, rejectIfRedisNotReady: true })
    : new RateLimiterMemory(window);
  return async (userId) => {
    try {
      await limiter.consume(userId);
    } catch (result) {
      // The store failed: the mutation could not be written either, so say so instead of letting it through.
      if (!(result instanceof RateLimiterRes)) throw new StoreUnavailableError(result);
      throw new DomainError(
        ErrorCode.RateLimited,
        `Too many changes from you; retry in ${Math.ceil(result.msBeforeNext / 1000)} s.`,
        { retryAfterMs: result.msBeforeNext },
      );
    }
  };
}
