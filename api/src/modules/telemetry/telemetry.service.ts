import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { RigSample } from '../../../../spawner/src/probes/sample';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { withTryLock } from '../../platform/db/try-lock';
import { AppError } from '../../platform/http/app-error';
import { JobHandler } from '../../platform/queue/job-handler.decorator';
import { JobName } from '../../platform/queue/jobs';
import { BUCKET_MS, bucketOf, rollUp, seriesOf } from './telemetry.policy';

export interface SeriesPoint {
  at: Date;
  value: number;
  min?: number;
  max?: number;
}

/**
 * Rig telemetry in Postgres: every probe's sample as it came (kept TELEMETRY_RAW_HOURS), rolled up
 * into five-minute aggregates per series (kept TELEMETRY_ROLLUP_DAYS). The rollup job recomputes only
 * complete buckets from the raw rows, so running it twice, late, or from two processes writes the same.
 */
@Injectable()
export class TelemetryService {
  private readonly log = new Logger(TelemetryService.name);

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  async store(rigId: string, sample: RigSample): Promise<void> {
    await this.db.query(`INSERT INTO rig_samples (rig_id, at, sample) VALUES ($1, $2, $3)`, [
      rigId,
      new Date(sample.at),
      JSON.stringify(sample),
    ]);
  }

  @JobHandler(JobName.RollupTelemetry)
  rollupJob(): Promise<{ rolled: number; rawDeleted: number; rollupsDeleted: number } | 'busy'> {
    return withTryLock(this.db, 'riglab.telemetry-rollup', () => this.rollup(new Date()));
  }

  async rollup(now: Date): Promise<{ rolled: number; rawDeleted: number; rollupsDeleted: number }> {
    const until = bucketOf(now); // the current bucket is not complete yet
    const rawKeepMs = this.config.telemetry.rawHours * 3_600_000;
    let rolled = 0;
    const rigs: Array<{ rig_id: string; from: Date | null }> = await this.db.query(
      `SELECT s.rig_id, (SELECT max(bucket) FROM rig_sample_rollups r WHERE r.rig_id = s.rig_id) AS "from"
         FROM (SELECT DISTINCT rig_id FROM rig_samples) s`,
    );
    for (const { rig_id: rigId, from } of rigs) {
      // From the last bucket written (again: it may have been written before all its samples came).
      const since = from ?? new Date(now.getTime() - rawKeepMs);
      const rows: Array<{ at: Date; sample: RigSample }> = await this.db.query(
        `SELECT at, sample FROM rig_samples WHERE rig_id = $1 AND at >= $2 AND at < $3 ORDER BY at`,
        [rigId, since, until],
      );
      const rollups = rollUp(rows);
      // One row per bucket: every series of the bucket in one jsonb object.
      const buckets = new Map<number, { bucket: Date; series: Record<string, number[]> }>();
      for (const r of rollups) {
        const b = buckets.get(r.bucket.getTime()) ?? { bucket: r.bucket, series: {} };
        b.series[r.series] = [r.avg, r.min, r.max, r.n];
        buckets.set(r.bucket.getTime(), b);
      }
      const all = [...buckets.values()];
      for (let i = 0; i < all.length; i += 200) {
        const chunk = all.slice(i, i + 200);
        await this.db.query(
          `INSERT INTO rig_sample_rollups (rig_id, bucket, series)
           SELECT $1, * FROM unnest($2::timestamptz[], $3::jsonb[])
           ON CONFLICT (rig_id, bucket) DO UPDATE SET series = excluded.series`,
          [rigId, chunk.map((b) => b.bucket), chunk.map((b) => JSON.stringify(b.series))],
        );
      }
      rolled += rollups.length;
    }
    const [, rawDeleted] = (await this.db.query(`DELETE FROM rig_samples WHERE at < $1`, [
      new Date(now.getTime() - rawKeepMs),
    ])) as [unknown, number];
    const [, rollupsDeleted] = (await this.db.query(`DELETE FROM rig_sample_rollups WHERE bucket < $1`, [
      new Date(now.getTime() - this.config.telemetry.rollupDays * 86_400_000),
    ])) as [unknown, number];
    if (rolled || rawDeleted || rollupsDeleted)
      this.log.log(`telemetry: ${rolled} rollups written, ${rawDeleted} raw and ${rollupsDeleted} rollups expired`);
    return { rolled, rawDeleted, rollupsDeleted };
  }

  /**
   * A rig's series since a time, for charts: raw points (`raw`, the last day) or five-minute
   * aggregates (`5m`). `prefix` picks series, e.g. `gpu.` for every GPU reading.
   */
  async series(
    rigName: string,
    since: Date,
    resolution: 'raw' | '5m',
    prefix = '',
  ): Promise<{ rig: string; resolution: string; since: Date; series: Record<string, SeriesPoint[]> }> {
    const [rig] = (await this.db.query(`SELECT id FROM rigs WHERE name = $1`, [rigName])) as Array<{ id: string }>;
    if (!rig) throw new AppError('telemetry.rig_not_found', 'not_found', `no rig named '${rigName}'`);
    const out: Record<string, SeriesPoint[]> = {};
    if (resolution === 'raw') {
      const rows: Array<{ at: Date; sample: RigSample }> = await this.db.query(
        `SELECT at, sample FROM rig_samples WHERE rig_id = $1 AND at >= $2 ORDER BY at LIMIT 20000`,
        [rig.id, since],
      );
      for (const { at, sample } of rows)
        for (const [k, value] of seriesOf(sample)) if (k.startsWith(prefix)) (out[k] ??= []).push({ at, value });
    } else {
      const rows: Array<{ bucket: Date; series: Record<string, number[]> }> = await this.db.query(
        `SELECT bucket, series FROM rig_sample_rollups WHERE rig_id = $1 AND bucket >= $2 ORDER BY bucket LIMIT 30000`,
        [rig.id, new Date(Math.floor(since.getTime() / BUCKET_MS) * BUCKET_MS)],
      );
      for (const r of rows)
        for (const [name, [avg, min, max]] of Object.entries(r.series))
          if (name.startsWith(prefix)) (out[name] ??= []).push({ at: r.bucket, value: avg, min, max });
    }
    return { rig: rigName, resolution, since, series: out };
  }

  /**
   * Where the rig's newest stored sample read its kernel log up to: the next probe reports only Xids
   * after it, across portal restarts too (null: every Xid since boot is news).
   */
  async lastKernelLog(rigId: string): Promise<RigSample['kernelLog']> {
    const [row] = await this.db.query(
      `SELECT sample->'kernelLog' AS log FROM rig_samples WHERE rig_id = $1 ORDER BY at DESC LIMIT 1`,
      [rigId],
    );
    return (row?.log as RigSample['kernelLog']) ?? null;
  }

  /** The newest sample of each rig, if not older than `maxAgeMs` (stale rigs drop out of /metrics). */
  async latest(maxAgeMs = 10 * 60_000): Promise<Array<{ rig: string; sample: RigSample }>> {
    // One index probe per rig (ix_rig_samples_rig_at), not every sample of the window decoded and sorted.
    return this.db.query(
      `SELECT r.name AS rig, s.sample FROM rigs r
         CROSS JOIN LATERAL (SELECT sample FROM rig_samples WHERE rig_id = r.id AND at > $1 ORDER BY at DESC LIMIT 1) s
        ORDER BY r.name`,
      [new Date(Date.now() - maxAgeMs)],
    );
  }
}
