import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Course } from '../courses/course.entity';
import type { User } from '../users/user.entity';
import { QuotaService } from './quota.service';
import { QuotaCeiling, round4, weekOf } from './quota.policy';

const LIVE = `('queued','placing','starting','ready','stopping')`;
const DAY_MS = 86_400_000;

/** A budget line: `limit` null means no limit (and then `left` is null too). */
export interface BudgetLine {
  limit: number | null;
  used: number;
  left: number | null;
}

const line = (limit: number | null, used: number, grants: number): BudgetLine => ({
  limit,
  used: round4(used),
  left: limit === null ? null : round4(limit + grants - used),
});

/**
 * Read-only usage views for students, instructors and campus IT. What is left is the week's allowance
 * plus the week's adjustments and credits, minus its debits — the same number the ledger's balance
 * gives once the week's refill is written, without writing it just because someone looked.
 */
@Injectable()
export class UsageService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly quota: QuotaService,
  ) {}

  /** My minutes used and left this week, per course I take. */
  async forStudent(user: User, now = new Date()) {
    const week = weekOf(now);
    const courses: Array<{ id: string; code: string; term: string; title: string }> = await this.db.query(
      `SELECT c.id, c.code, c.term, c.title FROM courses c JOIN enrollments e ON e.course_id = c.id
        WHERE e.user_id = $1 AND c.archived_at IS NULL ORDER BY c.code, c.term`,
      [user.id],
    );
    const sums = await this.sums({ userId: user.id, since: week.start, until: week.end });
    const live: Array<{ course_id: string; n: number; committed: number }> = await this.db.query(
      `SELECT course_id, count(*)::int AS n, coalesce(sum(greatest(gpu_reserved_minutes - gpu_debited_minutes, 0)), 0)::float8 AS committed
         FROM lab_sessions WHERE user_id = $1 AND state IN ${LIVE} GROUP BY course_id`,
      [user.id],
    );
    const out = [];
    for (const c of courses) {
      const limits = await this.quota.limitsFor(c.id);
      const s = sums.get(c.id) ?? ZERO;
      out.push({
        course: c,
        gpuMinutes: line(limits.gpuMinutesPerWeek, s.gpuUsed, s.gpuGrants),
        cpuHours: line(limits.cpuHoursPerWeek, s.cpuUsed / 60, s.cpuGrants / 60),
        committedGpuMinutes: round4(live.find((l) => l.course_id === c.id)?.committed ?? 0),
        liveLabs: live.find((l) => l.course_id === c.id)?.n ?? 0,
        limits: this.limitsOut(limits),
      });
    }
    return { week: { start: week.start, end: week.end }, refillsAt: week.end, courses: out };
  }

  /** Every student of a course: this week's use, and GPU-minutes per day for the last `days` days. */
  async forCourse(course: Course, days = 28, now = new Date()) {
    const week = weekOf(now);
    const limits = await this.quota.limitsFor(course.id);
    const students: Array<{ id: string; username: string; display_name: string }> = await this.db.query(
      `SELECT u.id, u.username, u.display_name FROM enrollments e JOIN users u ON u.id = e.user_id
        WHERE e.course_id = $1 AND e.role = 'student' ORDER BY u.username`,
      [course.id],
    );
    const sums = await this.sums({ courseId: course.id, since: week.start, until: week.end, byUser: true });
    const since = new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS - (days - 1) * DAY_MS);
    const daily: Array<{ user_id: string; day: Date; gpu: number; cpu: number }> = await this.db.query(
      `SELECT user_id, date_trunc('day', at AT TIME ZONE 'UTC') AS day,
              coalesce(-sum(gpu_minutes), 0)::float8 AS gpu, coalesce(-sum(cpu_minutes), 0)::float8 AS cpu
         FROM ledger_entries WHERE course_id = $1 AND kind = 'debit' AND at >= $2 GROUP BY user_id, day`,
      [course.id, since],
    );
    const dayKeys = Array.from({ length: days }, (_, i) =>
      new Date(since.getTime() + i * DAY_MS).toISOString().slice(0, 10),
    );
    const key = (d: Date | string) => new Date(d).toISOString().slice(0, 10);
    const pool = await this.poolLine(course.id, limits, week);
    return {
      course: { id: course.id, code: course.code, term: course.term, title: course.title },
      week: { start: week.start, end: week.end },
      limits: this.limitsOut(limits),
      pool,
      students: students.map((u) => {
        const s = sums.get(u.id) ?? ZERO;
        return {
          username: u.username,
          displayName: u.display_name,
          gpuMinutes: line(limits.gpuMinutesPerWeek, s.gpuUsed, s.gpuGrants),
          cpuHours: line(limits.cpuHoursPerWeek, s.cpuUsed / 60, s.cpuGrants / 60),
        };
      }),
      daily: {
        days: dayKeys,
        series: students.map((u) => ({
          username: u.username,
          gpuMinutes: dayKeys.map((d) =>
            round4(daily.filter((r) => r.user_id === u.id && key(r.day) === d).reduce((a, r) => a + r.gpu, 0)),
          ),
        })),
      },
    };
  }

  /** Campus IT's view: each live course's consumption this week, and GPU-minutes per week for 8 weeks. */
  async allCourses(now = new Date()) {
    const week = weekOf(now);
    const courses: Array<{ id: string; code: string; term: string; title: string; students: number }> =
      await this.db.query(
        `SELECT c.id, c.code, c.term, c.title,
                (SELECT count(*)::int FROM enrollments e WHERE e.course_id = c.id AND e.role = 'student') AS students
           FROM courses c WHERE c.archived_at IS NULL ORDER BY c.code, c.term`,
      );
    const weeks = Array.from({ length: 8 }, (_, i) => new Date(week.start.getTime() - (7 - i) * 7 * DAY_MS));
    const weekly: Array<{ course_id: string; week: Date; gpu: number; cpu: number }> = await this.db.query(
      `SELECT course_id, date_trunc('week', at AT TIME ZONE 'UTC') AS week,
              coalesce(-sum(gpu_minutes), 0)::float8 AS gpu, coalesce(-sum(cpu_minutes), 0)::float8 AS cpu
         FROM ledger_entries WHERE kind = 'debit' AND course_id IS NOT NULL AND at >= $1 GROUP BY course_id, week`,
      [weeks[0]],
    );
    const live: Array<{ course_id: string; ready: number; queued: number }> = await this.db.query(
      `SELECT course_id, count(*) FILTER (WHERE state = 'ready')::int AS ready,
              count(*) FILTER (WHERE state = 'queued' AND gpu_queued_at IS NOT NULL)::int AS queued
         FROM lab_sessions WHERE state IN ${LIVE} GROUP BY course_id`,
    );
    const wk = (d: Date | string) => new Date(d).toISOString().slice(0, 10);
    const out = [];
    for (const c of courses) {
      const limits = await this.quota.limitsFor(c.id);
      const rows = weekly.filter((r) => r.course_id === c.id);
      const thisWeek = rows.find((r) => wk(r.week) === week.label);
      out.push({
        course: { id: c.id, code: c.code, term: c.term, title: c.title },
        students: c.students,
        gpuMinutesThisWeek: round4(thisWeek?.gpu ?? 0),
        cpuHoursThisWeek: round4((thisWeek?.cpu ?? 0) / 60),
        pool: await this.poolLine(c.id, limits, week),
        labsRunning: live.find((l) => l.course_id === c.id)?.ready ?? 0,
        gpuQueued: live.find((l) => l.course_id === c.id)?.queued ?? 0,
        limits: this.limitsOut(limits),
        weekly: weeks.map((w) => round4(rows.find((r) => wk(r.week) === wk(w))?.gpu ?? 0)),
      });
    }
    return { week: { start: week.start, end: week.end }, weeks: weeks.map(wk), courses: out };
  }

  private async poolLine(
    courseId: string,
    limits: QuotaCeiling,
    week: { start: Date; end: Date },
  ): Promise<BudgetLine> {
    const [r] = (await this.db.query(
      `SELECT coalesce(-sum(gpu_minutes), 0)::float8 AS used FROM ledger_entries
        WHERE course_id = $1 AND kind IN ('debit', 'credit') AND at >= $2 AND at < $3`,
      [courseId, week.start, week.end],
    )) as Array<{ used: number }>;
    return line(limits.coursePoolGpuMinutesPerWeek, r.used, 0);
  }

  private limitsOut(l: QuotaCeiling) {
    return {
      maxConcurrentLabs: l.maxConcurrentLabs,
      cpuHoursPerWeek: l.cpuHoursPerWeek,
      gpuMinutesPerWeek: l.gpuMinutesPerWeek,
      coursePoolGpuMinutesPerWeek: l.coursePoolGpuMinutesPerWeek,
      sliceMinutes: l.sliceMinutes,
      gpuRates: l.gpuRates,
    };
  }

  /** Used (debits net of credits) and granted (adjustments) in a window, by course (or by user within a course). */
  private async sums(q: { userId?: string; courseId?: string; since: Date; until: Date; byUser?: boolean }) {
    const by = q.byUser ? 'user_id' : 'course_id';
    const rows: Array<{ k: string; gpu_used: number; cpu_used: number; gpu_grants: number; cpu_grants: number }> =
      await this.db.query(
        `SELECT ${by} AS k,
                coalesce(-sum(gpu_minutes) FILTER (WHERE kind IN ('debit', 'credit')), 0)::float8 AS gpu_used,
                coalesce(-sum(cpu_minutes) FILTER (WHERE kind IN ('debit', 'credit')), 0)::float8 AS cpu_used,
                coalesce(sum(gpu_minutes) FILTER (WHERE kind = 'adjustment'), 0)::float8 AS gpu_grants,
                coalesce(sum(cpu_minutes) FILTER (WHERE kind = 'adjustment'), 0)::float8 AS cpu_grants
           FROM ledger_entries
          WHERE at >= $1 AND at < $2 AND ($3::uuid IS NULL OR user_id = $3) AND ($4::uuid IS NULL OR course_id = $4)
            AND ${by} IS NOT NULL
          GROUP BY ${by}`,
        [q.since, q.until, q.userId ?? null, q.courseId ?? null],
      );
    return new Map(
      rows.map((r) => [
        r.k,
        { gpuUsed: r.gpu_used, cpuUsed: r.cpu_used, gpuGrants: r.gpu_grants, cpuGrants: r.cpu_grants },
      ]),
    );
  }
}

const ZERO = { gpuUsed: 0, cpuUsed: 0, gpuGrants: 0, cpuGrants: 0 };
