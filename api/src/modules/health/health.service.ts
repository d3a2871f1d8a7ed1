import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { RedisService } from '../../platform/redis/redis.service';
import { RigsService } from '../rigs/rigs.service';

export interface Check {
  status: 'up' | 'down';
  latencyMs: number;
  error?: string;
}

export interface RigCheck extends Check {
  name: string;
  state: string;
  endpoint: string;
  engineVersion?: string;
}

export interface Health {
  status: 'ok' | 'degraded' | 'down';
  checks: { database: Check; redis: Check; rigs: RigCheck[] };
}

async function timed(timeoutMs: number, work: () => Promise<unknown>): Promise<Check> {
  const started = performance.now();
  const ms = () => Math.round((performance.now() - started) * 10) / 10;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      work(),
      new Promise(
        (_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)),
      ),
    ]);
    return { status: 'up', latencyMs: ms() };
  } catch (err) {
    return { status: 'down', latencyMs: ms(), error: (err as Error).message.slice(0, 200) };
  } finally {
    clearTimeout(timer);
  }
}

/** Live checks of everything the portal depends on; each bounded in time so a dead part cannot hang it. */
@Injectable()
export class HealthService {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @InjectDataSource() private readonly db: DataSource,
    private readonly redis: RedisService,
    private readonly rigs: RigsService,
  ) {}

  async check(): Promise<Health> {
    const timeout = this.config.rigs.probeTimeoutMs;
    const [database, redis] = await Promise.all([
      timed(timeout, () => this.db.query('SELECT 1')),
      timed(timeout, () => this.redis.client.ping()),
    ]);
    let rigs: RigCheck[] = [];
    if (database.status === 'up') {
      rigs = (await this.rigs.probeAll()).map((r) => ({
        name: r.rig.name,
        state: r.rig.state,
        endpoint: r.rig.dockerEndpoint,
        status: r.up ? 'up' : 'down',
        latencyMs: r.latencyMs,
        ...(r.up ? { engineVersion: r.version } : { error: r.error }),
      }));
    }
    // Without Postgres nothing works; without Redis or a rig, the portal works in part.
    const status =
      database.status === 'down'
        ? 'down'
        : redis.status === 'down' || rigs.some((r) => r.status === 'down' && r.state === 'active')
          ? 'degraded'
          : 'ok';
    return { status, checks: { database, redis, rigs } };
  }
}
