import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import type { RigState } from '../rigs/rig.entity';
import { belowFloor } from './health-rules.policy';
import { judged, Measured, RigReliability, scoreOf, windowStartOf } from './reliability.policy';

/** A rig's score with what the scoring job needs besides the view: its id, state and GPU ids. */
export interface ScoredRig {
  rigId: string;
  state: RigState;
  windowStart: Date;
  view: RigReliability;
  /** GPU id → score (null while the rig is not judged). */
  gpuScores: Record<string, number | null>;
}

interface Window {
  id: string;
  name: string;
  state: RigState;
  start: Date;
}

const measured = (): Measured => ({ probesUp: 0, probesDown: 0, launches: 0, failedLaunches: 0, faults: 0 });

/**
 * Reliability of every rig and GPU that is not retired, measured from Postgres over each rig's window
 * (reliability.policy.ts): availability from the probe counts (rig_availability, gpu_availability),
 * launches placed there and those that ended `failed` (lab_sessions, by rig and by the GPU they held),
 * and health-rule faults (rig drains by a rule in rig_events, GPU quarantines in the audit log).
 * Six grouped queries for the whole pool, whatever its size.
 */
@Injectable()
export class ReliabilityService {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  /** GET /api/rigs/reliability and `riglab rig reliability`: every rig by name, its GPUs by index. */
  async all(now = new Date()): Promise<RigReliability[]> {
    return (await this.measure(now)).map((r) => r.view);
  }

  /**
   * What the scoring job stored last (every RIG_RELIABILITY_INTERVAL_S), for readers that refresh
   * often, such as the rigs board: no measuring per read. Rigs not scored yet are absent.
   */
  async stored(): Promise<RigReliability[]> {
    const rows: Array<{ view: RigReliability }> = await this.db.query(
      `SELECT s.view FROM rig_reliability_scores s JOIN rigs r ON r.id = s.rig_id ORDER BY r.name`,
    );
    return rows.map((r) => r.view);
  }

  async measure(now = new Date()): Promise<ScoredRig[]> {
    const { floor, windowDays, minHours } = this.config.reliability;
    const rigs: Array<{ id: string; name: string; state: RigState; passed: Date | null }> = await this.db.query(
      `SELECT r.id, r.name, r.state,
              (SELECT max(e.at) FROM rig_events e WHERE e.rig_id = r.id AND e.from_state = 'burn-in' AND e.to_state = 'active') AS passed
         FROM rigs r WHERE r.state <> 'retired' ORDER BY r.name`,
    );
    if (rigs.length === 0) return [];
    const windows: Window[] = rigs.map((r) => ({ ...r, start: windowStartOf(now, windowDays, r.passed) }));
    // Each rig's own window start goes in as arrays, so one query serves every rig.
    const w = `unnest($1::uuid[], $2::varchar[], $3::timestamptz[]) AS w(id, name, start)`;
    const args = [windows.map((x) => x.id), windows.map((x) => x.name), windows.map((x) => x.start)];

    const [availability, gpus, launches, drains, quarantines] = await Promise.all([
      this.db.query(
        `SELECT a.rig_id, sum(a.probes_up)::int AS up, sum(a.probes_down)::int AS down,
                (count(*) FILTER (WHERE a.hour + interval '1 hour' <= $4))::int AS complete
           FROM rig_availability a JOIN ${w} ON w.id = a.rig_id
          WHERE a.hour >= w.start GROUP BY a.rig_id`,
        [...args, now],
      ) as Promise<Array<{ rig_id: string; up: number; down: number; complete: number }>>,
      this.db.query(
        `SELECT g.id, g.rig_id, g.index, g.model,
                coalesce(sum(a.probes_up), 0)::int AS up, coalesce(sum(a.probes_down), 0)::int AS down
           FROM gpus g JOIN ${w} ON w.id = g.rig_id
           LEFT JOIN gpu_availability a ON a.gpu_id = g.id AND a.hour >= w.start
          GROUP BY g.id ORDER BY g.index`,
        args,
      ) as Promise<Array<{ id: string; rig_id: string; index: number; model: string; up: number; down: number }>>,
      this.db.query(
        `SELECT s.rig_id, s.gpu_id, count(*)::int AS n, (count(*) FILTER (WHERE s.state = 'failed'))::int AS failed
           FROM lab_sessions s JOIN ${w} ON w.id = s.rig_id
          WHERE s.started_at >= w.start GROUP BY s.rig_id, s.gpu_id`,
        args,
      ) as Promise<Array<{ rig_id: string; gpu_id: string | null; n: number; failed: number }>>,
      // The reliability floor's own moves are its verdicts, not faults.
      this.db.query(
        `SELECT e.rig_id, count(*)::int AS n FROM rig_events e JOIN ${w} ON w.id = e.rig_id
          WHERE e.at >= w.start AND e.to_state = 'draining' AND e.actor LIKE 'rule:%' AND e.actor <> 'rule:reliability'
          GROUP BY e.rig_id`,
        args,
      ) as Promise<Array<{ rig_id: string; n: number }>>,
      this.db.query(
        `SELECT w.id AS rig_id, a.detail->>'gpu' AS gpu, count(*)::int AS n
           FROM audit_events a JOIN ${w} ON w.name = a.target_id
          WHERE a.action = 'gpu.quarantine' AND a.target_type = 'rig' AND a.at >= w.start
          GROUP BY w.id, a.detail->>'gpu'`,
        args,
      ) as Promise<Array<{ rig_id: string; gpu: string | null; n: number }>>,
    ]);

    return windows.map((win) => {
      const avail = availability.find((a) => a.rig_id === win.id);
      const rigLaunches = launches.filter((l) => l.rig_id === win.id);
      const gpuFaults = quarantines.filter((q) => q.rig_id === win.id);
      const rig: Measured = {
        probesUp: avail?.up ?? 0,
        probesDown: avail?.down ?? 0,
        launches: rigLaunches.reduce((n, l) => n + l.n, 0),
        failedLaunches: rigLaunches.reduce((n, l) => n + l.failed, 0),
        // A rig's faults are its own drains and its GPUs' quarantines: both kept students off it.
        faults: (drains.find((d) => d.rig_id === win.id)?.n ?? 0) + gpuFaults.reduce((n, q) => n + q.n, 0),
      };
      const isJudged = judged(avail?.complete ?? 0, minHours);
      const gpuViews = gpus
        .filter((g) => g.rig_id === win.id)
        .map((g) => {
          const mine = rigLaunches.filter((l) => l.gpu_id === g.id);
          const m: Measured = {
            ...measured(),
            probesUp: g.up,
            probesDown: g.down,
            launches: mine.reduce((n, l) => n + l.n, 0),
            failedLaunches: mine.reduce((n, l) => n + l.failed, 0),
            faults: gpuFaults.find((q) => q.gpu === String(g.index))?.n ?? 0,
          };
          const s = scoreOf(m, win.start, now);
          return {
            id: g.id,
            view: {
              index: g.index,
              model: g.model,
              score: s.score,
              availability: s.availability,
              launches: m.launches,
              failedLaunches: m.failedLaunches,
              faults: m.faults,
              faultsPerDay: s.faultsPerDay,
            },
          };
        });
      const s = scoreOf(rig, win.start, now);
      const view: RigReliability = {
        rig: win.name,
        score: s.score,
        availability: s.availability,
        launchSuccess: s.launchSuccess,
        launches: rig.launches,
        failedLaunches: rig.failedLaunches,
        faults: rig.faults,
        faultsPerDay: s.faultsPerDay,
        windowStart: win.start.toISOString(),
        belowFloor: isJudged && belowFloor(s, floor),
        floor,
        judged: isJudged,
        gpus: gpuViews.map((g) => g.view),
      };
      return {
        rigId: win.id,
        state: win.state,
        windowStart: win.start,
        view,
        gpuScores: Object.fromEntries(gpuViews.map((g) => [g.id, isJudged ? g.view.score : null])),
      };
    });
  }
}
