import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { RedisRateLimit } from '../../platform/redis/rate-limit';
import { RedisService } from '../../platform/redis/redis.service';

/** Sign-in attempts per client address per minute (SIGN_IN_RATE_PER_MINUTE), shared by every process. */
@Injectable()
export class SignInLimiter {
  private readonly limit: RedisRateLimit;

  constructor(@Inject(CONFIG) config: Config, redis: RedisService) {
    this.limit = new RedisRateLimit(redis.client, `${config.deployment}:sign-in-rate`, config.signInRatePerMinute);
  }

  async allow(req: IncomingMessage & { ip?: string }): Promise<boolean> {
    return (await this.limit.take(req.ip ?? req.socket.remoteAddress ?? 'unknown')).allowed;
  }
}
