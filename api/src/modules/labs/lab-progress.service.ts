import { Inject, Injectable } from '@nestjs/common';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { RedisService } from '../../platform/redis/redis.service';

/** One step of a launch as a person reads it (JupyterHub's `{progress, message}` shape). */
export interface ProgressEvent {
  progress: number;
  message: string;
  at: string;
}

const KEEP_S = 3600;

/**
 * Launch progress in a Redis stream per session, so any portal process can serve the progress stream
 * of a launch another process runs. Losing it loses no facts: the session's state is in Postgres.
 */
@Injectable()
export class LabProgressService {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly redis: RedisService,
  ) {}

  private key(sessionId: string): string {
    return `${this.config.deployment}:progress:${sessionId}`;
  }

  /** Records a step; never fails the launch when Redis is away. */
  async report(sessionId: string, progress: number, message: string): Promise<void> {
    const key = this.key(sessionId);
    const event: ProgressEvent = {
      progress: Math.max(0, Math.min(100, Math.round(progress))),
      message,
      at: new Date().toISOString(),
    };
    try {
      await this.redis.client
        .multi()
        .xadd(key, 'MAXLEN', '~', '200', '*', 'e', JSON.stringify(event))
        .expire(key, KEEP_S)
        .exec();
    } catch {
      /* progress is a courtesy; the state machine in Postgres is the record */
    }
  }

  /** Steps after `afterId` ('0' = from the start), with the id to continue from. */
  async read(
    sessionId: string,
    afterId: string,
  ): Promise<{ events: Array<ProgressEvent & { id: string }>; lastId: string }> {
    try {
      const rows = await this.redis.client.xrange(
        this.key(sessionId),
        afterId === '0' ? '-' : `(${afterId}`,
        '+',
        'COUNT',
        100,
      );
      return {
        events: rows.map(([id, fields]) => ({ ...(JSON.parse(fields[1]) as ProgressEvent), id })),
        lastId: rows.length ? rows[rows.length - 1][0] : afterId,
      };
    } catch {
      return { events: [], lastId: afterId };
    }
  }
}
