import type { CacheItem, CacheProvider } from '@node-saml/node-saml';
import type Redis from 'ioredis';

/**
 * node-saml's request-id cache in Redis: any portal process accepts the IdP's answer to a sign-in
 * another one started, and a restart loses no sign-in in flight (ENVIRONMENT.md).
 */
export class RedisSamlCache implements CacheProvider {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs: number,
  ) {}

  async saveAsync(key: string, value: string): Promise<CacheItem | null> {
    const ok = await this.redis.set(this.prefix + key, value, 'PX', this.ttlMs, 'NX');
    return ok ? { value, createdAt: Date.now() } : null;
  }

  getAsync(key: string): Promise<string | null> {
    return this.redis.get(this.prefix + key);
  }

  async removeAsync(key: string | null): Promise<string | null> {
    if (!key) return null;
    return this.redis.getdel(this.prefix + key);
  }
}
