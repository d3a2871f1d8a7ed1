import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { withTryLock } from '../../platform/db/try-lock';
import { JobHandler } from '../../platform/queue/job-handler.decorator';
import { JobName } from '../../platform/queue/jobs';
import { RigStateService } from '../rigs/rig-state.service';
import { floorVerdict, looksLikePortalFault } from './reliability.policy';
import { ReliabilityService } from './reliability.service';

export const RELIABILITY_ACTOR = 'rule:reliability';

/**
 * Every RIG_RELIABILITY_INTERVAL_S: scores every rig and GPU, stores the scores where placement and
 * /metrics read them (rig_reliability_scores: a launch never computes a score), and applies the
 * floor: an active rig judged below it goes back to burn-in (through draining while labs run), whose
 * run then decides whether it returns. Safe to run twice: the scores are recomputed from Postgres and
 * a rig already out of `active` is left alone.
 */
@Injectable()
export class RigScoringService {
  private readonly log = new Logger(RigScoringService.name);

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @InjectDataSource() private readonly db: DataSource,
    private readonly reliability: ReliabilityService,
    private readonly states: RigStateService,
  ) {}

  @JobHandler(JobName.ScoreRigs)
  scoreJob(): Promise<{ scored: number; toBurnIn: string[] } | 'busy'> {
    return withTryLock(this.db, 'riglab.score-rigs', () => this.score(new Date()));
  }

  async score(now: Date): Promise<{ scored: number; toBurnIn: string[] }> {
    const rigs = await this.reliability.measure(now);
    await this.db.query(
      `INSERT INTO rig_reliability_scores (rig_id, score, gpu_scores, view, computed_at)
       SELECT *, $5::timestamptz FROM unnest($1::uuid[], $2::float8[], $3::jsonb[], $4::jsonb[])
       ON CONFLICT (rig_id) DO UPDATE
         SET score = excluded.score, gpu_scores = excluded.gpu_scores, view = excluded.view, computed_at = excluded.computed_at`,
      [
        rigs.map((r) => r.rigId),
        // Not judged yet: no score for placement to act on.
        rigs.map((r) => (r.view.judged ? r.view.score : null)),
        rigs.map((r) => JSON.stringify(r.gpuScores)),
        rigs.map((r) => JSON.stringify(r.view)),
        now,
      ],
    );
    // Retired rigs are no longer scored: their old score must not linger on /metrics.
    await this.db.query(`DELETE FROM rig_reliability_scores WHERE NOT (rig_id = ANY($1::uuid[]))`, [
      rigs.map((r) => r.rigId),
    ]);
    const keepMs = Math.max(this.config.reliability.windowDays, this.config.telemetry.rollupDays) * 86_400_000;
    const expired = new Date(now.getTime() - keepMs);
    await this.db.query(`DELETE FROM rig_availability WHERE hour < $1`, [expired]);
    await this.db.query(`DELETE FROM gpu_availability WHERE hour < $1`, [expired]);

    const toBurnIn: string[] = [];
    const below = rigs.map((r) => ({ state: r.state, judged: r.view.judged, belowFloor: r.view.belowFloor }));
    if (looksLikePortalFault(below)) {
      // Every probe failing from this side (portal network down, credentials expired) would otherwise
      // send the whole pool to burn-in at once.
      this.log.error({
        msg: 'most of the pool is below the reliability floor at once: no rig moved (check the portal and its network first)',
        below: rigs.filter((r) => r.view.belowFloor).map((r) => r.view.rig),
      });
      return { scored: rigs.length, toBurnIn };
    }
    for (const r of rigs) {
      const verdict = floorVerdict(r.view, { state: r.state, judged: r.view.judged, windowStart: r.windowStart }, now);
      if (verdict.action !== 'to-burn-in') continue;
      try {
        const after = await this.states.change(
          r.view.rig,
          { to: 'burn-in', reason: verdict.reason },
          { name: RELIABILITY_ACTOR },
        );
        toBurnIn.push(r.view.rig);
        this.log.warn({
          msg: 'rig below the reliability floor',
          rig: r.view.rig,
          score: r.view.score,
          floor: r.view.floor,
          state: after.state,
          drainTarget: after.drainTarget,
          reason: verdict.reason,
        });
      } catch (err) {
        // Someone moved the rig since it was read (a drain, maintenance): their move stands.
        this.log.warn({
          msg: 'rig below the reliability floor not moved',
          rig: r.view.rig,
          error: (err as Error).message,
        });
      }
    }
    this.log.log({ msg: 'rigs scored', scored: rigs.length, toBurnIn });
    return { scored: rigs.length, toBurnIn };
  }
}
