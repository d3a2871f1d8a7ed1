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

  /**
   * Marks a launch as being worked on for `seconds`. The reconciler gives a launch a new job only when
   * this mark is gone (its job was lost with Redis or a killed process), never a second one beside it.
   */
  async heartbeat(sessionId: string, seconds: number): Promise<void> {
    await this.redis.client
      .set(`${this.config.deployment}:working:${sessionId}`, '1', 'EX', Math.max(1, Math.ceil(seconds)))
      .catch(() => undefined);
  }

  async working(sessionId: string): Promise<boolean> {
    try {
      return (await this.redis.client.exists(`${this.config.deployment}:working:${sessionId}`)) === 1;
    } catch {
      return true; // Redis away: no new jobs could be queued anyway
    }
  }

  /** Records a step unless it says the same as the last one (a waiting launch retries often). */
  async reportIfChanged(sessionId: string, progress: number, message: string): Promise<void> {
    try {
      const [last] = await this.redis.client.xrevrange(this.key(sessionId), '+', '-', 'COUNT', 1);
      if (last && (JSON.parse(last[1][1]) as ProgressEvent).message === message) return;
    } catch {
      return;
    }
    await this.report(sessionId, progress, message);
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
