import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { AppError } from '../../platform/http/app-error';
import { AuditService } from '../audit/audit.service';
import { LabTemplate } from '../templates/lab-template.entity';
import type { User } from '../users/user.entity';
import type { Actor } from './actor';
import { Course, CourseRole, Enrollment } from './course.entity';
import { CourseErrorCode, courseNotFound } from './courses.errors';
import { checkSettingsPatch, COURSE_CODE_RULE, CourseSettings, planSsoSync, settingsOf } from './courses.policy';

export interface CourseView {
  id: string;
  code: string;
  term: string;
  title: string;
  archivedAt: Date | null;
  role: CourseRole | null;
  memberCount: number;
  settings: CourseSettings;
}

export interface SsoSyncResult {
  added: number;
  changed: number;
  removed: number;
  /** Groups naming a course riglab does not have. */
  ignored: number;
}

/** Courses: create, edit, archive; and the memberships SSO attributes bring at each sign-in. */
@Injectable()
export class CoursesService {
  constructor(
    @InjectRepository(Course) private readonly courses: Repository<Course>,
    @InjectRepository(Enrollment) private readonly enrollments: Repository<Enrollment>,
    @InjectDataSource() private readonly db: DataSource,
    private readonly audit: AuditService,
  ) {}

  /** The course with this code and term, created when absent. */
  async ensure(input: { code: string; term: string; title: string }): Promise<Course> {
    const found = await this.courses.findOne({ where: { code: input.code, term: input.term } });
    return found ?? this.courses.save(this.courses.create(input));
  }

  /** Adds or keeps a membership; an existing one keeps its role (seeding changes nothing twice). */
  async ensureMember(courseId: string, userId: string, role: CourseRole): Promise<Enrollment> {
    await this.enrollments.createQueryBuilder().insert().values({ courseId, userId, role }).orIgnore().execute();
    return this.enrollments.findOneOrFail({ where: { courseId, userId } });
  }

  list(): Promise<Course[]> {
    return this.courses.find({ order: { term: 'DESC', code: 'ASC' } });
  }

  /**
   * Courses as a user sees them: admins all, others those they belong to (null: all, for the CLI);
   * archived ones too on request.
   */
  async listFor(user: Pick<User, 'id' | 'campusRole'> | null, includeArchived: boolean): Promise<CourseView[]> {
    const qb = this.courses
      .createQueryBuilder('c')
      .leftJoin(Enrollment, 'mine', 'mine.course_id = c.id AND mine.user_id = :uid', {
        uid: user?.id ?? '00000000-0000-0000-0000-000000000000',
      })
      .addSelect('mine.role', 'my_role')
      .addSelect((sq) => sq.select('count(*)::int').from(Enrollment, 'e').where('e.course_id = c.id'), 'member_count')
      .orderBy('c.term', 'DESC')
      .addOrderBy('c.code', 'ASC');
    if (user && user.campusRole !== 'admin') qb.andWhere('mine.id IS NOT NULL');
    if (!includeArchived) qb.andWhere('c.archived_at IS NULL');
    const { entities, raw } = await qb.getRawAndEntities<{ my_role: CourseRole | null; member_count: number }>();
    return entities.map((c, i) => this.view(c, raw[i].my_role ?? null, raw[i].member_count));
  }

  view(c: Course, role: CourseRole | null, memberCount: number): CourseView {
    return {
      id: c.id,
      code: c.code,
      term: c.term,
      title: c.title,
      archivedAt: c.archivedAt,
      role,
      memberCount,
      settings: settingsOf(c.settings),
    };
  }

  /** One course with the caller's role and its lab templates (students see only published ones). */
  async detail(course: Course, role: CourseRole | null, isAdmin: boolean) {
    const memberCount = await this.enrollments.count({ where: { courseId: course.id } });
    const templates = await this.db.getRepository(LabTemplate).find({
      where: { courseId: course.id, ...(isAdmin || (role && role !== 'student') ? {} : { published: true }) },
      order: { title: 'ASC' },
    });
    return {
      ...this.view(course, role, memberCount),
      templates: templates.map((t) => ({ id: t.id, slug: t.slug, title: t.title, published: t.published })),
    };
  }

  async byId(id: string): Promise<Course> {
    const c = /^[0-9a-f-]{36}$/i.test(id) ? await this.courses.findOneBy({ id }) : null;
    if (!c) throw courseNotFound();
    return c;
  }

  /** By code and term, as people name courses (`CS101 2026F`); letter case does not matter. */
  async byCodeTerm(code: string, term: string): Promise<Course> {
    const c = await this.courses
      .createQueryBuilder('c')
      .where('lower(c.code) = lower(:code) AND lower(c.term) = lower(:term)', { code, term })
      .getOne();
    if (!c) throw courseNotFound(`code ${code} and term ${term}`);
    return c;
  }

  /** A staff member who creates a course becomes its instructor; an admin (or the CLI) does not. */
  async create(
    actor: Actor,
    input: { code: string; term: string; title: string; settings?: Record<string, unknown> },
  ): Promise<Course> {
    const code = input.code.trim();
    const term = input.term.trim();
    const title = input.title.trim();
    const bad = [
      !COURSE_CODE_RULE.test(code) && `code '${input.code}'`,
      !COURSE_CODE_RULE.test(term) && `term '${input.term}'`,
    ].filter(Boolean);
    if (bad.length)
      throw new AppError(
        CourseErrorCode.BadCode,
        'invalid',
        `${bad.join(' and ')} not allowed: use 1-40 letters, digits, '.', '_' or '-' (no spaces or colons)`,
      );
    if (!title) throw new AppError(CourseErrorCode.BadCode, 'invalid', 'title must not be empty');
    const settings = this.checkedSettings(input.settings ?? {});
    const course = await this.db.transaction(async (m) => {
      const clash = await m
        .getRepository(Course)
        .createQueryBuilder('c')
        .where('lower(c.code) = lower(:code) AND lower(c.term) = lower(:term)', { code, term })
        .getOne();
      if (clash)
        throw new AppError(CourseErrorCode.Exists, 'conflict', `course ${clash.code} ${clash.term} already exists`);
      const saved = await m.getRepository(Course).save(m.getRepository(Course).create({ code, term, title, settings }));
      if (actor.userId && actor.campusRole === 'staff')
        await m
          .getRepository(Enrollment)
          .insert({ courseId: saved.id, userId: actor.userId, role: 'instructor', source: 'manual' });
      return saved;
    });
    await this.record(actor, 'course.create', course, { code, term, title, settings: settingsOf(settings) });
    return course;
  }

  async update(
    actor: Actor,
    course: Course,
    patch: { title?: string; settings?: Record<string, unknown> },
  ): Promise<Course> {
    const changes: Record<string, unknown> = {};
    if (patch.title !== undefined) {
      const title = patch.title.trim();
      if (!title) throw new AppError(CourseErrorCode.BadCode, 'invalid', 'title must not be empty');
      if (title !== course.title) changes.title = title;
    }
    if (patch.settings !== undefined) {
      const next = { ...settingsOf(course.settings), ...this.checkedSettings(patch.settings) };
      if (JSON.stringify(next) !== JSON.stringify(settingsOf(course.settings))) changes.settings = next;
    }
    if (Object.keys(changes).length === 0) return course;
    await this.courses.update({ id: course.id }, changes);
    const updated = await this.byId(course.id);
    await this.record(actor, 'course.update', updated, changes);
    return updated;
  }

  /** Archived courses admit no launches (LabsService refuses them); labs already running carry on. */
  async setArchived(actor: Actor, course: Course, archived: boolean): Promise<Course> {
    if (!!course.archivedAt === archived) return course;
    await this.courses.update({ id: course.id }, { archivedAt: archived ? () => 'now()' : null });
    const updated = await this.byId(course.id);
    await this.record(actor, archived ? 'course.archive' : 'course.unarchive', updated);
    return updated;
  }

  /**
   * Brings a user's SSO-sourced memberships in line with what the IdP says at sign-in. The rule
   * (planSsoSync): memberships made by hand or CSV are never changed or removed by SSO; SSO-made
   * ones are created, re-roled or removed to match; groups naming an unknown course are ignored.
   */
  async syncSsoMemberships(
    userId: string,
    wanted: Array<{ code: string; term: string; role: CourseRole }>,
  ): Promise<SsoSyncResult> {
    return this.db.transaction(async (m) => {
      const known = wanted.length
        ? await m
            .getRepository(Course)
            .createQueryBuilder('c')
            .where(
              `(lower(c.code), lower(c.term)) IN (${wanted.map((_, i) => `(lower(:c${i}), lower(:t${i}))`).join(', ')})`,
              Object.fromEntries(
                wanted.flatMap((w, i) => [
                  [`c${i}`, w.code],
                  [`t${i}`, w.term],
                ]),
              ),
            )
            .getMany()
        : [];
      const key = (code: string, term: string) => `${code.toLowerCase()}\u0000${term.toLowerCase()}`;
      const ids = new Map(known.map((c) => [key(c.code, c.term), c.id]));
      const resolved = wanted.flatMap((w) => {
        const courseId = ids.get(key(w.code, w.term));
        return courseId ? [{ courseId, role: w.role }] : [];
      });
      const ignored = wanted.length - resolved.length;
      // Two sign-ins of one user at once take turns (the user row is the lock), so the second plans
      // from what the first wrote and the counts stay true.
      await m.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [userId]);
      const current = await m.getRepository(Enrollment).find({ where: { userId } });
      const plan = planSsoSync(current, resolved);
      const repo = m.getRepository(Enrollment);
      if (plan.add.length)
        await repo
          .createQueryBuilder()
          .insert()
          .values(plan.add.map((a) => ({ userId, courseId: a.courseId, role: a.role, source: 'sso' })))
          .orIgnore()
          .execute();
      for (const c of plan.change) await repo.update({ userId, courseId: c.courseId, source: 'sso' }, { role: c.role });
      for (const courseId of plan.remove) await repo.delete({ userId, courseId, source: 'sso' });
      return { added: plan.add.length, changed: plan.change.length, removed: plan.remove.length, ignored };
    });
  }

  private checkedSettings(patch: unknown): Partial<CourseSettings> {
    const check = checkSettingsPatch(patch);
    if (!check.ok) throw new AppError(CourseErrorCode.BadSettings, 'invalid', check.reason);
    return check.settings;
  }

  private record(actor: Actor, action: string, course: Course, detail: Record<string, unknown> = {}) {
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
