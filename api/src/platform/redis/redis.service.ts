import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import Redis, { RedisOptions } from 'ioredis';
import type { Config } from '../config/config';
import { CONFIG } from '../config/config.module';

/**
 * Connections to Redis, which holds only work in flight. Clients never queue commands while Redis is
 * away (callers get an error at once instead of hanging), and keep reconnecting in the background.
 */
@Injectable()
export class RedisService implements OnModuleDestroy {
  private readonly log = new Logger(RedisService.name);
  private readonly clients: Redis[] = [];
  private lastErrorLogged = 0;
  readonly client: Redis;

  constructor(@Inject(CONFIG) private readonly config: Config) {
    this.client = this.create('riglab');
  }

  /** A new connection (BullMQ workers need their own blocking connection). */
  create(name: string, overrides: RedisOptions = {}): Redis {
    const client = new Redis(this.config.redisUrl, {
      connectionName: name,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 3000,
      retryStrategy: (times) => Math.min(times * 250, 3000),
      ...overrides,
    });
    client.on('error', (err: Error) => {
      // A down Redis makes every client complain several times a second; one line per 30 s is enough.
      if (Date.now() - this.lastErrorLogged > 30_000) {
        this.lastErrorLogged = Date.now();
        this.log.warn(`redis unavailable: ${err.message}`);
      }
    });
    this.clients.push(client);
    return client;
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.quit().catch(() => c.disconnect())));
  }
}
