import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { RedisService } from '../../platform/redis/redis.service';

/**
 * Sign-in attempts per client address per minute (SIGN_IN_RATE_PER_MINUTE), counted in Redis so that
 * every portal process shares the count. When Redis is away sign-ins are not blocked by the limiter.
 */
@Injectable()
export class SignInLimiter {
  private readonly limiter: RateLimiterRedis;

  constructor(@Inject(CONFIG) config: Config, redis: RedisService) {
    this.limiter = new RateLimiterRedis({
      storeClient: redis.client,
      keyPrefix: `${config.deployment}:sign-in-rate`,
      points: config.signInRatePerMinute,
      duration: 60,
    });
  }

  async allow(req: IncomingMessage & { ip?: string }): Promise<boolean> {
    try {
      await this.limiter.consume(req.ip ?? req.socket.remoteAddress ?? 'unknown');
      return true;
    } catch (e) {
      // A rejection with remaining points info means "over the limit"; anything else is Redis trouble.
      return !(e && typeof e === 'object' && 'remainingPoints' in e);
    }
  }
}
