import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { tokenOf } from './lab-token';

export interface LabRoute {
  sessionId: string;
  ownerId: string;
  /** For the instructor-access check (courses.policy mayOpenNotebook). */
  courseId: string;
  /** `http://ip:port` of the lab's Jupyter server. */
  target: string;
  jupyterToken: string;
}

const HIT_TTL_MS = 5000;
const MISS_TTL_MS = 1000;

/**
 * `/user/<name>/<lab>` → the lab's container, cached per process so proxied requests do not hit the
 * database each time. Entries live a few seconds: every process sees a stop within that time, and a
 * stale entry can only reach a removed container (connection refused), never another student's lab,
 * since the owner check and the injected token come from the same entry.
 */
@Injectable()
export class RouteTable {
  private readonly cache = new Map<string, { route: LabRoute | null; until: number }>();

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  async lookup(username: string, lab: string): Promise<LabRoute | null> {
    const key = `${username}/${lab}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) return hit.route;
    const rows: Array<{
      id: string;
      user_id: string;
      course_id: string;
      endpoint: string;
      jupyter_token: string | null;
    }> = await this.db.query(
      `SELECT s.id, s.user_id, s.course_id, s.endpoint, s.jupyter_token
         FROM lab_sessions s JOIN users u ON u.id = s.user_id
        WHERE u.username = $1 AND s.name = $2 AND s.state = 'ready' AND s.endpoint IS NOT NULL
        ORDER BY s.ready_at DESC LIMIT 1`,
      [username, lab],
    );
    const route = rows[0]
      ? {
          sessionId: rows[0].id,
          ownerId: rows[0].user_id,
          courseId: rows[0].course_id,
          target: rows[0].endpoint,
          jupyterToken: tokenOf(this.config.labTokenKey, { id: rows[0].id, jupyterToken: rows[0].jupyter_token }),
        }
      : null;
    this.cache.set(key, { route, until: Date.now() + (route ? HIT_TTL_MS : MISS_TTL_MS) });
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value as string);
    return route;
  }

  forget(username: string, lab: string): void {
    this.cache.delete(`${username}/${lab}`);
  }
}
