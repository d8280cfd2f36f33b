import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { DomainError, ErrorCode } from '../errors.js';

/** Throws RATE_LIMITED when the user has used up their mutations; per instance, in memory. */
export type RateLimit = (userId: string) => Promise<void>;

/**
 * @param perSecond sustained mutations a second per user (0: no limit)
 * @param burst mutations allowed at once; the window is burst / perSecond seconds
 */
export function createRateLimit(perSecond: number, burst: number): RateLimit {
  if (perSecond <= 0) return async () => undefined;
  const limiter = new RateLimiterMemory({ points: burst, duration: Math.max(1, Math.round(burst / perSecond)) });
  return async (userId) => {
    try {
      await limiter.consume(userId);
    } catch (result) {
      if (!(result instanceof RateLimiterRes)) throw result;
      throw new DomainError(
        ErrorCode.RateLimited,
        `Too many changes from you; retry in ${Math.ceil(result.msBeforeNext / 1000)} s.`,
        { retryAfterMs: result.msBeforeNext },
      );
    }
  };
}
