import type Redis from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

export type RateDecision = { allowed: true } | { allowed: false; retryAfterS: number };

/**
 * So many events per key per minute, counted in Redis so that every portal process shares the
 * count. When Redis is away nothing is refused by the limit (the limit protects; it never decides).
 */
export class RedisRateLimit {
  private readonly limiter: RateLimiterRedis;

  constructor(client: Redis, keyPrefix: string, perMinute: number) {
    this.limiter = new RateLimiterRedis({ storeClient: client, keyPrefix, points: perMinute, duration: 60 });
  }

  async take(key: string): Promise<RateDecision> {
    try {
      await this.limiter.consume(key);
      return { allowed: true };
    } catch (e) {
      // A RateLimiterRes means "over the limit"; anything else is Redis trouble.
      if (e instanceof RateLimiterRes)
        return { allowed: false, retryAfterS: Math.max(1, Math.ceil(e.msBeforeNext / 1000)) };
      return { allowed: true };
    }
  }
}
