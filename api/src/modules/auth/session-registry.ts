import { Inject, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { RedisService } from '../../platform/redis/redis.service';

/**
 * Which browser sessions belong to whom, in Redis beside the sessions themselves, so that a sign-out
 * by the IdP (single logout) or an admin ends a person's sessions on every portal process.
 */
@Injectable()
export class SessionRegistry {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly redis: RedisService,
  ) {}

  private get prefix() {
    return `${this.config.deployment}:`;
  }

  private userKey(userId: string) {
    return `${this.prefix}user-sessions:${userId}`;
  }

  private nameIdKey(nameId: string) {
    return `${this.prefix}saml-nameid:${createHash('sha256').update(nameId).digest('hex')}`;
  }

  async add(userId: string, sessionId: string, nameId?: string): Promise<void> {
    const ttl = this.config.sessionMaxHours * 3600;
    const m = this.redis.client.multi().sadd(this.userKey(userId), sessionId).expire(this.userKey(userId), ttl);
    if (nameId) m.set(this.nameIdKey(nameId), userId, 'EX', ttl);
    await m.exec();
  }

  async remove(userId: string, sessionId: string): Promise<void> {
    await this.redis.client.srem(this.userKey(userId), sessionId);
  }

  /** Ends every session of the user; returns how many were live. */
  async endAll(userId: string): Promise<number> {
    const ids = await this.redis.client.smembers(this.userKey(userId));
    if (!ids.length) return 0;
    const deleted = await this.redis.client.del(...ids.map((id) => `${this.prefix}sess:${id}`));
    await this.redis.client.del(this.userKey(userId));
    return deleted;
  }

  async endAllForNameId(nameId: string): Promise<number> {
    const userId = await this.redis.client.get(this.nameIdKey(nameId));
    return userId ? this.endAll(userId) : 0;
  }
}
