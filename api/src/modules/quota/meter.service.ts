import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { withTryLock } from '../../platform/db/try-lock';
import { JobHandler } from '../../platform/queue/job-handler.decorator';
import { JobName } from '../../platform/queue/jobs';
import { LabProgressService } from '../labs/lab-progress.service';
import { LabSessionsRepository } from '../labs/lab-sessions.repository';
import { LabStopperService } from '../labs/lab-stopper.service';
import { LedgerService } from '../ledger/ledger.service';
import { QuotaMetrics } from './quota.metrics';
import { QuotaService } from './quota.service';
import { charge, fmtMinutes, QuotaCeiling, round4, sliceStep, utcText, weekOf } from './quota.policy';

interface Metered {
  id: string;
  name: string;
  user_id: string;
  course_id: string;
  state: string;
  from_at: Date;
  end_at: Date;
  metered_until: Date | null;
  cpu_only: boolean;
  gpu_id: string | null;
  gpu_model: string | null;
  share: number | null;
  rate: number | null;
  cpus: number;
  rig: string | null;
  template: string;
  slice_ends_at: Date | null;
  slice_warned_s: number | null;
  allow_cpu: boolean;
}

const whenText = (d: Date) => `${d.toISOString().slice(11, 16)} UTC`;

/**
 * Puts lab time under the quota, every few seconds: writes each lab's usage to the ledger as debits
 * (at least every QUOTA_DEBIT_EVERY_S and when it ends), then enforces. A GPU lab ends at the earlier
 * of its slice's end and the moment its student's (or course's) GPU budget runs out at its burn rate;
 * the student is warned QUOTA_SLICE_WARN_S before (10 and 2 minutes by default) on the lab and its
 * progress stream, then the lab is stopped with its files kept — within one metering interval of
 * the budget reaching zero. CPU budgets stop every lab of the course when spent.
 */
@Injectable()
export class MeterService {
  private readonly log = new Logger(MeterService.name);

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @InjectDataSource() private readonly db: DataSource,
    private readonly ledger: LedgerService,
    private readonly quota: QuotaService,
    private readonly stopper: LabStopperService,
    private readonly progress: LabProgressService,
    private readonly sessions: LabSessionsRepository,
    private readonly metrics: QuotaMetrics,
  ) {}

  @JobHandler(JobName.MeterUsage)
  tick(): Promise<{ debits: number; warned: number; stopped: number } | 'busy'> {
    // One tick at a time portal-wide: a slow one makes the next skip rather than warn twice.
    return withTryLock(this.db, 'riglab.meter', () => this.meterAndEnforce(new Date()));
  }

  private async meterAndEnforce(now: Date): Promise<{ debits: number; warned: number; stopped: number }> {
    const rows = await this.due(now);
    let debits = 0;
    for (const r of rows) if (await this.debit(r)) debits++;
    const { warned, stopped } = await this.enforce(
      rows.filter((r) => r.state === 'ready'),
      now,
    );
    if (debits || warned || stopped) this.log.log(`metered: ${debits} debits, ${warned} warned, ${stopped} stopped`);
    return { debits, warned, stopped };
  }

  /** Labs with usage not yet in the ledger: running ones (up to now) and ended ones (up to their end). */
  private async due(now: Date): Promise<Metered[]> {
    const rows: Metered[] = await this.db.query(
      `WITH x AS (
         SELECT s.id, s.name, s.user_id, s.course_id, s.state, s.metered_until, s.cpu_only, s.gpu_id, s.gpu_model,
                s.gpu_share::float8 AS share, s.gpu_rate::float8 AS rate, v.cpu_millis / 1000.0 AS cpus,
                r.name AS rig, t.slug AS template, s.slice_ends_at, s.slice_warned_s,
                coalesce((v.gpu_policy ->> 'allowCpuFallback')::boolean, false) AS allow_cpu,
                coalesce(s.metered_until, s.ready_at) AS from_at,
                CASE WHEN s.state IN ('ready', 'stopping') THEN $1::timestamptz
                     -- a lost lab could not be used after its rig was last seen
                     WHEN s.state = 'lost' THEN least(coalesce(r.last_seen_at, s.state_changed_at), s.state_changed_at)
                     ELSE coalesce(s.stopped_at, s.state_changed_at) END AS end_at
           FROM lab_sessions s
           JOIN lab_template_versions v ON v.id = s.template_version_id
           JOIN lab_templates t ON t.id = v.template_id
           LEFT JOIN rigs r ON r.id = s.rig_id
          WHERE s.ready_at IS NOT NULL
            AND (s.state IN ('ready', 'stopping')
                 OR (s.state IN ('stopped', 'failed', 'lost') AND s.state_changed_at > $1::timestamptz - interval '7 days'
                     AND (s.metered_until IS NULL OR s.metered_until < s.state_changed_at))))
       SELECT * FROM x WHERE end_at > from_at ORDER BY id`,
      [now],
    );
    return rows.map((r) => ({ ...r, cpus: Number(r.cpus) }));
  }

  private gpuCharge(r: Metered, wallMs: number): number {
    return r.gpu_id && !r.cpu_only ? charge(wallMs, r.share ?? 1, r.rate ?? 1) : 0;
  }

  /** One debit for the lab's unmetered time, once it is long enough or the lab has ended. Idempotent. */
  private async debit(r: Metered): Promise<boolean> {
    const wallMs = r.end_at.getTime() - r.from_at.getTime();
    const running = r.state === 'ready' || r.state === 'stopping';
    if (running && wallMs < this.config.quota.debitEveryS * 1000) return false;
    const gpu = this.gpuCharge(r, wallMs);
    const cpu = round4((wallMs / 60_000) * r.cpus);
    const done = await this.db.transaction(async (m) => {
      // Claimed by moving metered_until from what we read: a second process metering the same lab finds nothing to do.
      const [, n] = (await m.query(
        `UPDATE lab_sessions SET metered_until = $1, gpu_debited_minutes = gpu_debited_minutes + $2
          WHERE id = $3 AND metered_until IS NOT DISTINCT FROM $4`,
        [r.end_at, gpu, r.id, r.metered_until],
      )) as [unknown, number];
      if (n !== 1) return false;
      await this.ledger.append(
        [
          {
            kind: 'debit',
            userId: r.user_id,
            courseId: r.course_id,
            sessionId: r.id,
            gpuMinutes: -gpu,
            cpuMinutes: -cpu,
            actor: 'system',
            reason: `${fmtMinutes(wallMs / 60_000)} of lab ${r.template}${r.gpu_model && !r.cpu_only ? ` with a ${r.gpu_model}` : ''}${running ? '' : ` (${r.state})`}`,
            detail: {
              rig: r.rig,
              gpuId: r.cpu_only ? null : r.gpu_id,
              gpuModel: r.cpu_only ? null : r.gpu_model,
              slotShare: r.cpu_only ? null : r.share,
              rate: r.cpu_only ? null : r.rate,
              cpus: r.cpus,
              from: r.from_at.toISOString(),
              to: r.end_at.toISOString(),
              week: weekOf(r.end_at).label,
            },
            idemKey: `debit:${r.id}:${r.end_at.toISOString()}`,
            at: r.end_at,
          },
        ],
        m,
      );
      return true;
    });
    if (done) {
      this.metrics.gpuMinutes.inc(gpu);
      r.from_at = r.end_at;
      r.metered_until = r.end_at;
    }
    return done;
  }

  /** Budgets and slices of running labs, grouped by student and course (one budget each). */
  private async enforce(running: Metered[], now: Date): Promise<{ warned: number; stopped: number }> {
    let warned = 0;
    let stopped = 0;
    const limitsCache = new Map<string, QuotaCeiling>();
    const limitsOf = async (courseId: string) => {
      if (!limitsCache.has(courseId)) limitsCache.set(courseId, await this.quota.limitsFor(courseId));
      return limitsCache.get(courseId)!;
    };
    const groups = new Map<string, Metered[]>();
    for (const r of running) {
      const k = `${r.user_id}/${r.course_id}`;
      groups.set(k, [...(groups.get(k) ?? []), r]);
    }
    for (const group of groups.values()) {
      const { user_id: userId, course_id: courseId } = group[0];
      const limits = await limitsOf(courseId);
      const unmetered = (r: Metered) => this.gpuCharge(r, now.getTime() - r.from_at.getTime());
      const unmeteredCpu = (r: Metered) => ((now.getTime() - r.from_at.getTime()) / 60_000) * r.cpus;
      const budget = await this.db.transaction(async (m) => {
        await this.quota.lock(m, userId, courseId);
        return this.quota.budget(m, userId, courseId, limits, now);
      });
      const refills = weekOf(now).end;
      const gpuLabs = group.filter((r) => r.gpu_id && !r.cpu_only);
      if (
        limits.cpuHoursPerWeek !== null &&
        budget.cpuMinutesLeft - group.reduce((a, r) => a + unmeteredCpu(r), 0) <= 0
      ) {
        for (const r of group)
          if (
            await this.stopper.stop(
              r.id,
              `your CPU-hours for this week are used up; they refill on ${utcText(refills)}`,
            )
          ) {
            stopped++;
            this.metrics.stops.inc({ reason: 'cpu_budget' });
          }
        continue;
      }
      // Minutes of wall time until the budget runs out at the group's combined burn rate.
      const burn = gpuLabs.reduce((a, r) => a + (r.share ?? 1) * (r.rate ?? 1), 0);
      let budgetEnd: Date | null = null;
      let budgetWhy = '';
      if (burn > 0 && limits.gpuMinutesPerWeek !== null) {
        const left = budget.gpuLeft - gpuLabs.reduce((a, r) => a + unmetered(r), 0);
        budgetEnd = new Date(now.getTime() + (Math.max(0, left) / burn) * 60_000);
        budgetWhy = `your GPU-minutes for this week are used up; they refill on ${utcText(refills)}`;
      }
      if (burn > 0 && budget.poolLeft !== null) {
        const courseLabs = running.filter((r) => r.course_id === courseId && r.gpu_id && !r.cpu_only);
        const poolBurn = courseLabs.reduce((a, r) => a + (r.share ?? 1) * (r.rate ?? 1), 0);
        const poolLeft = budget.poolLeft - courseLabs.reduce((a, r) => a + unmetered(r), 0);
        const poolEnd = new Date(now.getTime() + (Math.max(0, poolLeft) / poolBurn) * 60_000);
        if (!budgetEnd || poolEnd < budgetEnd) {
          budgetEnd = poolEnd;
          budgetWhy = `the course's GPU time for this week is used up; it refills on ${utcText(refills)}`;
        }
      }
      for (const r of gpuLabs) {
        const sliceEnd = r.slice_ends_at;
        const byBudget = budgetEnd !== null && (!sliceEnd || budgetEnd < sliceEnd);
        const endsAt = byBudget ? budgetEnd! : sliceEnd;
        if (!endsAt) continue;
        const step = sliceStep(now, endsAt, this.config.quota.sliceWarnS, r.slice_warned_s);
        const cpuAfter = !byBudget && r.allow_cpu;
        if (step.action === 'warn') {
          const what = byBudget ? 'Your GPU-minutes for this week run out' : 'Your GPU time slice ends';
          const then = cpuAfter
            ? 'the lab then restarts on CPU without the GPU'
            : 'the lab then stops; your files are kept';
          const message = `${what} in ${fmtMinutes(step.leftS / 60)} (at ${whenText(endsAt)}): ${then}.`;
          if (await this.sessions.transition(r.id, 'ready', message, { sliceWarnedS: step.aheadS }, ['ready'])) {
            await this.progress.report(r.id, 100, message);
            warned++;
          }
        } else if (step.action === 'end') {
          const reason = byBudget
            ? budgetWhy
            : cpuAfter
              ? `its GPU time slice of ${fmtMinutes(limits.sliceMinutes)} ended; it continues on CPU`
              : `its GPU time slice of ${fmtMinutes(limits.sliceMinutes)} ended`;
          if (await this.stopper.stop(r.id, reason, ['ready'], cpuAfter ? { continueOnCpu: true } : {})) {
            stopped++;
            this.metrics.stops.inc({ reason: byBudget ? 'gpu_budget' : 'slice' });
          }
        }
      }
    }
    return { warned, stopped };
  }
}
