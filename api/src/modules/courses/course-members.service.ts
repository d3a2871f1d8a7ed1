import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In } from 'typeorm';
import { AppError } from '../../platform/http/app-error';
import { AuditService } from '../audit/audit.service';
import { User } from '../users/user.entity';
import type { Actor } from './actor';
import { COURSE_ROLES, Course, CourseRole, Enrollment } from './course.entity';
import { CourseErrorCode } from './courses.errors';
import { isCourseRole, normalizeUsername, selfChangeRefusal, USERNAME_HINT } from './courses.policy';
import { parseRoster, planRoster, RosterPreview } from './roster-csv';

export interface MemberView {
  username: string;
  displayName: string;
  email: string | null;
  role: CourseRole;
  source: 'manual' | 'csv' | 'sso';
  addedAt: Date;
}

const memberView = (e: Enrollment): MemberView => ({
  username: e.user!.username,
  displayName: e.user!.displayName,
  email: e.user!.email,
  role: e.role,
  source: e.source as MemberView['source'],
  addedAt: e.createdAt,
});

/** Rosters: who belongs to a course in which role, by hand or by CSV file. */
@Injectable()
export class CourseMembersService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly audit: AuditService,
  ) {}

  async list(course: Course): Promise<MemberView[]> {
    const rows = await this.db.getRepository(Enrollment).find({
      where: { courseId: course.id },
      relations: { user: true },
    });
    const rank: Record<CourseRole, number> = { instructor: 0, ta: 1, student: 2 };
    return rows.map(memberView).sort((a, b) => rank[a.role] - rank[b.role] || a.username.localeCompare(b.username));
  }

  /**
   * Adds a member or changes their role. A username nobody has signed in with yet gets a placeholder
   * account (campus role student) that their first SSO sign-in takes over. A hand-made change makes
   * the membership `manual`, so SSO no longer touches it.
   */
  async put(actor: Actor, course: Course, rawUsername: string, rawRole: string): Promise<MemberView> {
    const username = this.username(rawUsername);
    const role = rawRole?.toLowerCase?.();
    if (!role || !isCourseRole(role))
      throw new AppError(
        CourseErrorCode.BadRole,
        'invalid',
        `role '${rawRole ?? ''}' is not one of ${COURSE_ROLES.join(', ')}`,
      );
    const { before, after } = await this.db.transaction(async (m) => {
      const [user] = await this.ensureUsers(m, [username]);
      const veto = selfChangeRefusal({
        actorId: actor.userId ?? '',
        actorCampusRole: actor.campusRole,
        targetUserId: user.id,
        newRole: role,
      });
      if (veto) throw new AppError(CourseErrorCode.SelfChange, 'conflict', veto);
      const had = await m.getRepository(Enrollment).findOneBy({ courseId: course.id, userId: user.id });
      await this.upsert(m, course.id, [{ userId: user.id, role }], 'manual');
      return {
        before: had,
        after: await m
          .getRepository(Enrollment)
          .findOneOrFail({ where: { courseId: course.id, userId: user.id }, relations: { user: true } }),
      };
    });
    if (!before || before.role !== role)
      await this.record(actor, before ? 'course.member_change' : 'course.member_add', course, {
        username,
        role,
        ...(before ? { from: before.role } : {}),
      });
    return memberView(after);
  }

  async remove(actor: Actor, course: Course, rawUsername: string): Promise<void> {
    const username = normalizeUsername(rawUsername) ?? rawUsername;
    const user = await this.db.getRepository(User).findOneBy({ username });
    const had = user
      ? await this.db.getRepository(Enrollment).findOneBy({ courseId: course.id, userId: user.id })
      : null;
    if (!user || !had)
      throw new AppError(
        CourseErrorCode.MemberNotFound,
        'not_found',
        `${rawUsername} is not a member of ${course.code} ${course.term}`,
      );
    const veto = selfChangeRefusal({
      actorId: actor.userId ?? '',
      actorCampusRole: actor.campusRole,
      targetUserId: user.id,
      newRole: null,
    });
    if (veto) throw new AppError(CourseErrorCode.SelfChange, 'conflict', veto);
    await this.db.getRepository(Enrollment).delete({ id: had.id });
    await this.record(actor, 'course.member_remove', course, { username, role: had.role, source: had.source });
  }

  /**
   * Previews or applies a roster file. Any bad row and nothing is written (the preview says what is
   * wrong on which line); otherwise the whole file goes in one transaction.
   */
  async importCsv(actor: Actor, course: Course, csv: string, dryRun: boolean): Promise<RosterPreview> {
    const rows = parseRoster(csv);
    const names = [...new Set(rows.filter((r) => !r.error).map((r) => r.username))];
    const preview = await this.db.transaction(async (m) => {
      // Taken inside the transaction so the plan and the writes see the same roster.
      await m.query('SELECT id FROM courses WHERE id = $1 FOR UPDATE', [course.id]);
      const users = names.length ? await m.getRepository(User).find({ where: { username: In(names) } }) : [];
      const ids = new Map(users.map((u) => [u.username, u.id]));
      const current = new Map<string, CourseRole>();
      if (users.length) {
        const enrolled = await m
          .getRepository(Enrollment)
          .find({ where: { courseId: course.id, userId: In(users.map((u) => u.id)) } });
        const byId = new Map(users.map((u) => [u.id, u.username]));
        for (const e of enrolled) current.set(byId.get(e.userId)!, e.role);
      }
      const plan = planRoster(rows, current, (username, role) =>
        selfChangeRefusal({
          actorId: actor.userId ?? '',
          actorCampusRole: actor.campusRole,
          targetUserId: ids.get(username) ?? '',
          newRole: role,
        }),
      );
      if (dryRun || plan.summary.error > 0) return plan;
      const writes = plan.rows.filter((r) => r.action === 'add' || r.action === 'change');
      const made = await this.ensureUsers(
        m,
        writes.map((r) => r.username),
      );
      const idOf = new Map(made.map((u) => [u.username, u.id]));
      await this.upsert(
        m,
        course.id,
        writes.map((r) => ({ userId: idOf.get(r.username)!, role: r.role as CourseRole })),
        'csv',
      );
      return { ...plan, applied: true };
    });
    if (preview.applied)
      await this.record(actor, 'course.roster_import', course, {
        summary: preview.summary,
        added: preview.rows.filter((r) => r.action === 'add').map((r) => `${r.username}:${r.role}`),
        changed: preview.rows.filter((r) => r.action === 'change').map((r) => `${r.username}:${r.role}`),
      });
    return preview;
  }

  private username(raw: string): string {
    const u = normalizeUsername(raw ?? '');
    if (!u)
      throw new AppError(
        CourseErrorCode.BadUsername,
        'invalid',
        `username '${raw ?? ''}' is not allowed: ${USERNAME_HINT}`,
      );
    return u;
  }

  /** The users by name, placeholders created for those never seen (safe against a sign-in at the same moment). */
  private async ensureUsers(m: EntityManager, usernames: string[]): Promise<User[]> {
    if (usernames.length === 0) return [];
    await m
      .createQueryBuilder()
      .insert()
      .into(User)
      .values(usernames.map((username) => ({ username, displayName: username, campusRole: 'student' as const })))
      .orIgnore()
      .execute();
    return m.getRepository(User).find({ where: { username: In(usernames) } });
  }

  private async upsert(
    m: EntityManager,
    courseId: string,
    members: Array<{ userId: string; role: CourseRole }>,
    source: 'manual' | 'csv',
  ): Promise<void> {
    if (members.length === 0) return;
    await m
      .createQueryBuilder()
      .insert()
      .into(Enrollment)
      .values(members.map((x) => ({ courseId, userId: x.userId, role: x.role, source })))
      .orUpdate(['role', 'source'], ['user_id', 'course_id'])
      .execute();
  }

  private record(actor: Actor, action: string, course: Course, detail: Record<string, unknown>) {
    return this.audit.record({
      action,
      actorUserId: actor.userId,
      actor: actor.name,
      targetType: 'course',
      targetId: course.id,
      detail: { course: `${course.code} ${course.term}`, ...detail },
      requestId: actor.requestId,
      ip: actor.ip,
    });
  }
}
