import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { AppError } from '../../platform/http/app-error';
import { AuditService } from '../audit/audit.service';
import type { Actor } from '../courses/actor';
import type { Course } from '../courses/course.entity';
import { LedgerService } from '../ledger/ledger.service';
import { CourseQuota } from './course-quota.entity';
import {
  admit,
  Admission,
  BudgetState,
  checkCeilingPatch,
  checkTightening,
  effectiveLimits,
  QuotaCeiling,
  QuotaTightening,
  round4,
  weekOf,
} from './quota.policy';
import { QuotaErrorCode } from './quota.errors';
import { QuotaMetrics } from './quota.metrics';

const LIVE = `('queued','placing','starting','ready','stopping')`;

export interface QuotaView {
  course: { id: string; code: string; term: string };
  /** What campus IT allows (configured defaults where the course sets nothing). */
  ceiling: QuotaCeiling;
  /** What the course's instructors tightened. */
  tightening: QuotaTightening;
  /** The limits in force. */
  effective: QuotaCeiling;
  updatedBy: string;
  updatedAt: Date | null;
}

/**
 * Course quotas and the budgets derived from the ledger. A student's week starts with a `refill`
 * entry of the course's weekly allowance (written when first needed, and topped up or down by a
 * further refill when the allowance changes mid-week); usage lands as `debit` entries; what is left
 * is the sum of the week's entries. Everything that reads and then writes a budget holds the
 * course's and the student's advisory locks, so concurrent launches see each other (STYLE.md:
 * coder's quota committer).
 */
@Injectable()
export class QuotaService {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @InjectDataSource() private readonly db: DataSource,
    private readonly ledger: LedgerService,
    private readonly audit: AuditService,
    private readonly metrics: QuotaMetrics,
  ) {}

  private ceilingOf(row: CourseQuota | null): QuotaCeiling {
    return { ...this.config.quota.defaults, gpuRates: {}, ...(row?.ceiling ?? {}) };
  }

  /** The limits in force for a course. */
  async limitsFor(courseId: string, m: EntityManager = this.db.manager): Promise<QuotaCeiling> {
    const row = await m.getRepository(CourseQuota).findOneBy({ courseId });
    return effectiveLimits(this.ceilingOf(row), row?.tightening ?? {});
  }

  async view(course: Course): Promise<QuotaView> {
    const row = await this.db.getRepository(CourseQuota).findOneBy({ courseId: course.id });
    const ceiling = this.ceilingOf(row);
    return {
      course: { id: course.id, code: course.code, term: course.term },
      ceiling,
      tightening: row?.tightening ?? {},
      effective: effectiveLimits(ceiling, row?.tightening ?? {}),
      updatedBy: row?.updatedBy ?? 'defaults',
      updatedAt: row?.updatedAt ?? null,
    };
  }

  /**
   * Changes a course's quota. Campus admins set the ceiling (`ceiling`) and may also tighten;
   * instructors only tighten, never past the ceiling. Audited with before and after.
   */
  async update(actor: Actor, course: Course, body: { ceiling?: unknown; tightening?: unknown }): Promise<QuotaView> {
    if (body.ceiling !== undefined && actor.campusRole !== 'admin')
      throw new AppError(QuotaErrorCode.CeilingAdminOnly, 'forbidden', 'only campus IT may change the quota ceiling');
    if (body.ceiling === undefined && body.tightening === undefined)
      throw new AppError(QuotaErrorCode.Invalid, 'invalid', 'give ceiling (campus IT) or tightening (instructors)');
    const before = await this.view(course);
    await this.db.transaction(async (m) => {
      const repo = m.getRepository(CourseQuota);
      await m.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', ['riglab.quota.course', course.id]);
      const row = (await repo.findOneBy({ courseId: course.id })) ?? repo.create({ courseId: course.id });
      if (body.ceiling !== undefined) {
        const c = checkCeilingPatch(body.ceiling);
        if (!c.ok) throw new AppError(QuotaErrorCode.Invalid, 'invalid', `ceiling: ${c.reason}`);
        row.ceiling = { ...(row.ceiling ?? {}), ...c.value };
      }
      if (body.tightening !== undefined) {
        const t = checkTightening(body.tightening, this.ceilingOf(row));
        if (!t.ok) throw new AppError(QuotaErrorCode.Invalid, 'invalid', `tightening: ${t.reason}`);
        const merged: QuotaTightening = { ...(row.tightening ?? {}) };
        for (const [k, v] of Object.entries(t.value) as Array<[keyof QuotaTightening, number | undefined]>) {
          if (v === undefined) delete merged[k];
          else merged[k] = v;
        }
        row.tightening = merged;
      }
      row.updatedBy = actor.name;
      await repo.save(row);
    });
    const after = await this.view(course);
    await this.audit.record({
      action: 'course.quota.update',
      actorUserId: actor.userId,
      actor: actor.name,
      targetType: 'course',
      targetId: course.id,
      requestId: actor.requestId,
      ip: actor.ip,
      detail: { before: before.effective, after: after.effective, ceiling: body.ceiling, tightening: body.tightening },
    });
    return after;
  }

  /** Serialises budget reads-then-writes of one student in one course (course lock first: a fixed order). */
  async lock(m: EntityManager, userId: string, courseId: string): Promise<void> {
    await m.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', ['riglab.quota.course', courseId]);
    await m.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [
      'riglab.quota.user',
      `${userId}/${courseId}`,
    ]);
  }

  /**
   * The student's budget this week as the ledger says, after making sure the week's refill matches
   * the allowance in force. Call under `lock`.
   */
  async budget(
    m: EntityManager,
    userId: string,
    courseId: string,
    limits: QuotaCeiling,
    now = new Date(),
    excludeSession?: string,
  ): Promise<BudgetState> {
    const week = weekOf(now);
    const sums = async () =>
      (
        (await m.query(
          `SELECT coalesce(sum(gpu_minutes) FILTER (WHERE kind = 'refill'), 0)::float8 AS refill_gpu,
                  coalesce(sum(cpu_minutes) FILTER (WHERE kind = 'refill'), 0)::float8 AS refill_cpu,
                  coalesce(sum(gpu_minutes), 0)::float8 AS gpu, coalesce(sum(cpu_minutes), 0)::float8 AS cpu
             FROM ledger_entries WHERE user_id = $1 AND course_id = $2 AND at >= $3 AND at < $4`,
          [userId, courseId, week.start, week.end],
        )) as Array<{ refill_gpu: number; refill_cpu: number; gpu: number; cpu: number }>
      )[0];
    let s = await sums();
    const wantGpu = limits.gpuMinutesPerWeek ?? 0;
    const wantCpu = (limits.cpuHoursPerWeek ?? 0) * 60;
    const dGpu = round4(wantGpu - s.refill_gpu);
    const dCpu = round4(wantCpu - s.refill_cpu);
    if (dGpu !== 0 || dCpu !== 0) {
      const first = s.refill_gpu === 0 && s.refill_cpu === 0;
      await this.ledger.append(
        [
          {
            kind: 'refill',
            userId,
            courseId,
            gpuMinutes: dGpu,
            cpuMinutes: dCpu,
            actor: 'system',
            reason: first
              ? `weekly allowance for the week of ${week.label}`
              : `allowance changed to ${limits.gpuMinutesPerWeek ?? 'unlimited'} GPU-minutes, ${limits.cpuHoursPerWeek ?? 'unlimited'} CPU-hours per week`,
            detail: {
              week: week.label,
              gpuMinutesPerWeek: limits.gpuMinutesPerWeek,
              cpuHoursPerWeek: limits.cpuHoursPerWeek,
            },
            at: now < week.start ? week.start : now,
          },
        ],
        m,
      );
      s = await sums();
    }
    const [live] = (await m.query(
      `SELECT count(*) FILTER (WHERE user_id = $1)::int AS labs,
              coalesce(sum(greatest(gpu_reserved_minutes - gpu_debited_minutes, 0)) FILTER (WHERE user_id = $1), 0)::float8 AS committed,
              coalesce(sum(greatest(gpu_reserved_minutes - gpu_debited_minutes, 0)), 0)::float8 AS pool_committed
         FROM lab_sessions WHERE course_id = $2 AND state IN ${LIVE} AND id IS DISTINCT FROM $3`,
      [userId, courseId, excludeSession ?? null],
    )) as Array<{ labs: number; committed: number; pool_committed: number }>;
    let poolLeft: number | null = null;
    if (limits.coursePoolGpuMinutesPerWeek !== null) {
      const [used] = (await m.query(
        `SELECT coalesce(-sum(gpu_minutes), 0)::float8 AS used FROM ledger_entries
          WHERE course_id = $1 AND kind IN ('debit', 'credit') AND at >= $2 AND at < $3`,
        [courseId, week.start, week.end],
      )) as Array<{ used: number }>;
      poolLeft = round4(limits.coursePoolGpuMinutesPerWeek - used.used);
    }
    return {
      gpuLeft: limits.gpuMinutesPerWeek === null ? Infinity : round4(s.gpu),
      gpuCommitted: round4(live.committed),
      cpuMinutesLeft: limits.cpuHoursPerWeek === null ? Infinity : round4(s.cpu),
      poolLeft,
      poolCommitted: round4(live.pool_committed),
      liveLabs: live.labs,
    };
  }

  /**
   * Admission of a launch, inside the caller's transaction (the one that inserts the session): takes
   * the locks, refills when due, and decides. A refusal is an error that says why and when the budget
   * refills (429 with Retry-After up to the refill, like a capacity answer).
   */
  async admit(
    m: EntityManager,
    userId: string,
    courseId: string,
    wantsGpu: boolean,
  ): Promise<Admission & { ok: true }> {
    await this.lock(m, userId, courseId);
    const limits = await this.limitsFor(courseId, m);
    const now = new Date();
    const decision = admit(
      limits,
      await this.budget(m, userId, courseId, limits, now),
      wantsGpu,
      weekOf(now).end,
      this.config.quota.minStartGpuMinutes,
    );
    if (decision.ok) return decision;
    this.metrics.refusals.inc({ code: decision.code });
    const retryAfterS = decision.refillsAt
      ? Math.max(1, Math.ceil((decision.refillsAt.getTime() - now.getTime()) / 1000))
      : undefined;
    throw new AppError(`quota_${decision.code}`, 'capacity', decision.reason, retryAfterS, {
      refillsAt: decision.refillsAt,
    });
  }
}
