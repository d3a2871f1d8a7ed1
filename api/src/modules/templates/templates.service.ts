import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AppError } from '../../platform/http/app-error';
import { AuditService } from '../audit/audit.service';
import type { Actor } from '../courses/actor';
import type { Course } from '../courses/course.entity';
import { LabTemplate, LabTemplateVersion } from './lab-template.entity';
import { StarterStore } from './starter-store';
import { TemplateErrorCode, templateInvalid, templateNotFound } from './templates.errors';
import {
  changedFields,
  checkDraft,
  checkPatch,
  draftOfVersion,
  type TemplateDraft,
  type VersionFields,
  versionFieldsOf,
  versionView,
} from './templates.policy';

export interface SaveResult {
  template: LabTemplate;
  version: LabTemplateVersion;
  /** A new version was written (false: the edit changed nothing a lab uses). */
  created: boolean;
  changed: string[];
}

/**
 * Lab templates of a course and their versions. Versions are immutable: an edit writes version N+1
 * (only when something a lab uses changed), and `currentVersion` — what new launches get — moves
 * only on publish, so a draft can be prepared while students keep launching the published one.
 * Running labs hold their version's id and never see a later edit.
 */
@Injectable()
export class TemplatesService {
  private readonly log = new Logger(TemplatesService.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly starters: StarterStore,
    private readonly audit: AuditService,
  ) {}

  /** The absolute starter folder for a version's labs (see StarterStore.folderOf), or null for none. */
  starterFolder(version: Pick<LabTemplateVersion, 'starterFiles' | 'starterArchiveId'>): Promise<string | null> {
    return this.starters.folderOf(version);
  }

  async list(course: Course, publishedOnly: boolean) {
    const templates = await this.db.getRepository(LabTemplate).find({
      where: { courseId: course.id, ...(publishedOnly ? { published: true } : {}) },
      order: { title: 'ASC' },
    });
    const latest = await this.latestVersions(templates.map((t) => t.id));
    const current = templates.length
      ? await this.db.getRepository(LabTemplateVersion).find({
          where: templates.map((t) => ({ templateId: t.id, version: t.currentVersion ?? 0 })),
          relations: { starterArchive: true },
        })
      : [];
    return templates.map((t) => {
      const v = current.find((x) => x.templateId === t.id);
      return { ...this.templateView(t, latest.get(t.id) ?? null), current: v ? versionView(v) : null };
    });
  }

  async get(course: Course, templateId: string) {
    const t = await this.byId(course, templateId);
    const versions = await this.db.getRepository(LabTemplateVersion).find({
      where: { templateId: t.id },
      order: { version: 'DESC' },
      relations: { starterArchive: true },
    });
    return { ...this.templateView(t, versions[0]?.version ?? null), versions: versions.map(versionView) };
  }

  async create(actor: Actor, course: Course, body: unknown): Promise<SaveResult> {
    const checked = checkDraft(body);
    if (!checked.ok) throw templateInvalid(checked.problems);
    return this.save(actor, course, checked.value, { mustBeNew: true });
  }

  async edit(actor: Actor, course: Course, templateId: string, body: unknown): Promise<SaveResult> {
    const checked = checkPatch(body);
    if (!checked.ok) throw templateInvalid(checked.problems);
    const t = await this.byId(course, templateId);
    const latest = await this.latestVersion(this.db.manager, t.id);
    const base = latest
      ? draftOfVersion(latest)
      : // A template with no version yet (made by hand in the database) takes the patch whole.
        ({} as ReturnType<typeof draftOfVersion>);
    const merged = checkDraft({ slug: t.slug, title: t.title, description: t.description, ...base, ...checked.value });
    if (!merged.ok) throw templateInvalid(merged.problems);
    // A new starter folder replaces an uploaded archive; an edit that names none keeps the archive.
    const keepArchive = checked.value.starterFolder === undefined ? (latest?.starterArchiveId ?? null) : null;
    return this.save(actor, course, merged.value, { starterArchiveId: keepArchive });
  }

  /**
   * Writes a draft for (course, slug): creates the template when absent, a new version when a field
   * a lab uses differs from the latest version, and updates title/description in place (they are not
   * what a running lab depends on). One transaction with the template row locked, so two editors
   * at once get versions N+1 and N+2, never two N+1.
   */
  async save(
    actor: Actor,
    course: Course,
    draft: TemplateDraft,
    opts: { mustBeNew?: boolean; starterArchiveId?: string | null; via?: EntityManager } = {},
  ): Promise<SaveResult> {
    this.starters.assertFolder(draft.starterFolder);
    const fields: VersionFields = { ...versionFieldsOf(draft), starterArchiveId: opts.starterArchiveId ?? null };
    if (fields.starterArchiveId) fields.starterFiles = null;
    // Inside the caller's transaction when given (an upload stores its archive in the same one).
    const run = <T>(work: (m: EntityManager) => Promise<T>): Promise<T> =>
      opts.via ? work(opts.via) : this.db.transaction(work);
    const result = await run(async (m: EntityManager) => {
      const templates = m.getRepository(LabTemplate);
      let template = await templates.findOne({
        where: { courseId: course.id, slug: draft.slug },
        lock: { mode: 'pessimistic_write' },
      });
      if (template && opts.mustBeNew)
        throw new AppError(
          TemplateErrorCode.Exists,
          'conflict',
          `course ${course.code} ${course.term} already has a template '${draft.slug}'`,
        );
      const isNew = !template;
      template ??= await templates.save(
        templates.create({ courseId: course.id, slug: draft.slug, title: draft.title, description: draft.description }),
      );
      const latest = isNew ? null : await this.latestVersion(m, template.id);
      const changed: string[] = changedFields(latest, fields);
      const versionChanged = changed.length > 0;
      if (!isNew && (template.title !== draft.title || template.description !== draft.description)) {
        if (template.title !== draft.title) changed.push('title');
        if (template.description !== draft.description) changed.push('description');
        template.title = draft.title;
        template.description = draft.description;
        await templates.save(template);
      }
      const version = versionChanged
        ? await m.getRepository(LabTemplateVersion).save(
            m.getRepository(LabTemplateVersion).create({
              templateId: template.id,
              version: (latest?.version ?? 0) + 1,
              createdBy: actor.name,
              ...fields,
            }),
          )
        : latest!;
      if (template.currentVersion === null) {
        template.currentVersion = version.version;
        await templates.save(template);
      }
      return { template, version, created: versionChanged, changed: isNew ? ['created'] : changed };
    });
    if (result.changed.length) {
      await this.record(
        actor,
        result.changed.includes('created') ? 'template.create' : 'template.edit',
        course,
        result.template,
        {
          version: result.version.version,
          newVersion: result.created,
          changed: result.changed,
        },
      );
      this.log.log(
        {
          course: `${course.code} ${course.term}`,
          template: draft.slug,
          version: result.version.version,
          changed: result.changed,
          actor: actor.name,
        },
        result.created ? 'template version written' : 'template details updated',
      );
    }
    return result;
  }

  /** Launches use `version` (default: the latest) from now on; labs already running keep theirs. */
  async publish(actor: Actor, course: Course, templateId: string, version?: number): Promise<LabTemplate> {
    const t = await this.byId(course, templateId);
    const target =
      version === undefined
        ? await this.latestVersion(this.db.manager, t.id)
        : await this.db.getRepository(LabTemplateVersion).findOneBy({ templateId: t.id, version });
    if (!target)
      throw new AppError(
        TemplateErrorCode.VersionNotFound,
        'not_found',
        version === undefined
          ? `template '${t.slug}' has no version to publish`
          : `template '${t.slug}' has no version ${version}`,
      );
    if (t.published && t.currentVersion === target.version) return t;
    await this.db.getRepository(LabTemplate).update({ id: t.id }, { published: true, currentVersion: target.version });
    await this.record(actor, 'template.publish', course, t, {
      version: target.version,
      was: t.published ? t.currentVersion : null,
    });
    return this.byId(course, t.id);
  }

  /** Students no longer see or launch it; running labs carry on. */
  async unpublish(actor: Actor, course: Course, templateId: string): Promise<LabTemplate> {
    const t = await this.byId(course, templateId);
    if (!t.published) return t;
    await this.db.getRepository(LabTemplate).update({ id: t.id }, { published: false });
    await this.record(actor, 'template.unpublish', course, t, { version: t.currentVersion });
    return this.byId(course, t.id);
  }

  /**
   * A new version whose starter files are the uploaded archive. The archive is checked completely
   * before anything is written; a refused one leaves no version and no stored blob.
   */
  async uploadStarter(actor: Actor, course: Course, templateId: string, buf: Buffer): Promise<SaveResult> {
    const t = await this.byId(course, templateId);
    const checked = await this.starters.check(buf);
    const latest = await this.latestVersion(this.db.manager, t.id);
    if (!latest)
      throw new AppError(TemplateErrorCode.VersionNotFound, 'not_found', `template '${t.slug}' has no version yet`);
    return this.db.transaction(async (m) => {
      const archive = await this.starters.save(m, buf, checked);
      const draft = checkDraft({
        slug: t.slug,
        title: t.title,
        description: t.description,
        ...draftOfVersion(latest),
        starterFolder: null,
      });
      if (!draft.ok) throw templateInvalid(draft.problems);
      return this.save(actor, course, draft.value, { starterArchiveId: archive.id, via: m });
    });
  }

  /** What a student would get from a version (default: the latest, so a draft can be checked before publishing). */
  async preview(course: Course, templateId: string, version?: number) {
    const t = await this.byId(course, templateId);
    const v = await this.db.getRepository(LabTemplateVersion).findOne({
      where: version === undefined ? { templateId: t.id } : { templateId: t.id, version },
      order: { version: 'DESC' },
      relations: { starterArchive: true },
    });
    if (!v)
      throw new AppError(
        TemplateErrorCode.VersionNotFound,
        'not_found',
        `template '${t.slug}' has no version ${version ?? ''}`.trim(),
      );
    const view = versionView(v);
    const files = await this.starters.fileList(v);
    return {
      template: { id: t.id, slug: t.slug, title: t.title, description: t.description },
      version: v.version,
      published: t.published && t.currentVersion === v.version,
      image: v.image,
      resources: { cpus: view.cpus, memoryMb: view.memoryMb, pids: view.pids },
      gpu: view.gpu.words,
      gpuPolicy: view.gpu,
      limits: { idleTimeoutMinutes: view.idleTimeoutMinutes, maxSessionHours: view.maxSessionHours },
      envNames: Object.keys(view.env).sort(),
      starter: {
        source: v.starterArchiveId ? 'archive' : v.starterFiles ? 'folder' : 'none',
        files,
        fileCount: files.length,
        totalBytes: files.reduce((n, f) => n + f.bytes, 0),
      },
    };
  }

  async byId(course: Course, templateId: string): Promise<LabTemplate> {
    const t = /^[0-9a-f-]{36}$/i.test(templateId)
      ? await this.db.getRepository(LabTemplate).findOneBy({ id: templateId, courseId: course.id })
      : null;
    if (!t) throw templateNotFound();
    return t;
  }

  async bySlug(course: Course, slug: string): Promise<LabTemplate> {
    const t = await this.db.getRepository(LabTemplate).findOneBy({ slug, courseId: course.id });
    if (!t)
      throw new AppError(
        TemplateErrorCode.NotFound,
        'not_found',
        `course ${course.code} ${course.term} has no template '${slug}'`,
      );
    return t;
  }

  private latestVersion(m: EntityManager, templateId: string): Promise<LabTemplateVersion | null> {
    return m.getRepository(LabTemplateVersion).findOne({ where: { templateId }, order: { version: 'DESC' } });
  }

  private async latestVersions(ids: string[]): Promise<Map<string, number>> {
    if (!ids.length) return new Map();
    const rows: Array<{ template_id: string; v: number }> = await this.db.query(
      `SELECT template_id, max(version)::int AS v FROM lab_template_versions WHERE template_id = ANY($1) GROUP BY template_id`,
      [ids],
    );
    return new Map(rows.map((r) => [r.template_id, r.v]));
  }

  private templateView(t: LabTemplate, latestVersion: number | null) {
    return {
      id: t.id,
      courseId: t.courseId,
      slug: t.slug,
      title: t.title,
      description: t.description,
      published: t.published,
      currentVersion: t.currentVersion,
      latestVersion,
      updatedAt: t.updatedAt,
    };
  }

  private record(actor: Actor, action: string, course: Course, t: LabTemplate, detail: Record<string, unknown>) {
    return this.audit.record({
      action,
      actorUserId: actor.userId,
      actor: actor.name,
      targetType: 'lab_template',
      targetId: t.id,
      detail: { course: `${course.code} ${course.term}`, template: t.slug, ...detail },
      requestId: actor.requestId,
      ip: actor.ip,
    });
  }
}
