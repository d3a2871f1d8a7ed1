import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In, IsNull, QueryFailedError } from 'typeorm';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { AppError } from '../../platform/http/app-error';
import { JobName } from '../../platform/queue/jobs';
import { JobHandler } from '../../platform/queue/job-handler.decorator';
import { QueueService } from '../../platform/queue/queue.service';
import { RedisRateLimit } from '../../platform/redis/rate-limit';
import { RedisService } from '../../platform/redis/redis.service';
import type { CourseAccess, Principal } from '../auth/auth.decorators';
import { Enrollment } from '../courses/course.entity';
import { mayOpenNotebook, settingsOf } from '../courses/courses.policy';
import { LabTemplate, LabTemplateVersion } from '../templates/lab-template.entity';
import { ACTIVE_LAB_STATES, LabSession, LabState } from './lab-session.entity';
import { LabProgressService, ProgressEvent } from './lab-progress.service';
import { LabSessionsRepository } from './lab-sessions.repository';
import { labBaseUrl } from './lab-runner.service';
import { LabStopperService } from './lab-stopper.service';
import { sourcesOf } from './labs.policy';
import { QuotaService } from '../quota/quota.service';
import { LabErrorCode, labNotFound } from './labs.errors';

const FINAL: LabState[] = ['stopped', 'failed', 'lost'];

export function labView(s: LabSession) {
  const tpl = s.templateVersion?.template;
  return {
    id: s.id,
    name: s.name,
    state: s.state,
    stateReason: s.stateReason,
    owner: s.user?.username,
    template: tpl ? { id: tpl.id, slug: tpl.slug, title: tpl.title, version: s.templateVersion!.version } : null,
    course: s.course ? { id: s.course.id, code: s.course.code, term: s.course.term, title: s.course.title } : null,
    rig: s.rig?.name ?? null,
    url: s.state === 'ready' && s.user ? labBaseUrl(s.user.username, s.name) : null,
    gpu: s.templateVersion?.gpuPolicy.required ?? false,
    createdAt: s.createdAt,
    readyAt: s.readyAt,
    stoppedAt: s.stoppedAt,
    warning:
      (s.cullWarnedAt || s.sliceWarnedS !== null) && s.state === 'ready'
        ? { since: s.cullWarnedAt ?? s.stateChangedAt, message: s.stateReason }
        : null,
    cpuOnly: s.cpuOnly,
    /** The GPU this lab holds and until when (its time slice); the portal shows a countdown. */
    slice:
      s.sliceEndsAt && s.gpuId && !s.cpuOnly && ['starting', 'ready'].includes(s.state)
        ? { gpuModel: s.gpuModel, endsAt: s.sliceEndsAt, reservedGpuMinutes: Number(s.gpuReservedMinutes) }
        : null,
    /** Where the launch stands in the fair GPU queue. */
    queue:
      s.state === 'queued' && s.gpuQueuedAt
        ? { since: s.gpuQueuedAt, position: s.queuePosition, estimatedStartAt: s.queueEta }
        : null,
    gpuMinutesCharged: Number(s.gpuDebitedMinutes),
  };
}

/** What a student does with labs: launch, look, stop. Policy lives in the runner, placement and culler. */
@Injectable()
export class LabsService {
  private readonly log = new Logger(LabsService.name);
  private readonly launchRate: RedisRateLimit;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @InjectDataSource() private readonly db: DataSource,
    private readonly sessions: LabSessionsRepository,
    private readonly progress: LabProgressService,
    private readonly queue: QueueService,
    private readonly stopper: LabStopperService,
    private readonly quota: QuotaService,
    redis: RedisService,
  ) {
    this.launchRate = new RedisRateLimit(
      redis.client,
      `${config.deployment}:launch-rate`,
      config.labs.launchRatePerMinute,
    );
  }

  /** Templates the user may launch: published, in a course they belong to that is not archived. */
  async launchable(p: Principal) {
    const qb = this.db
      .getRepository(LabTemplate)
      .createQueryBuilder('t')
      .innerJoinAndSelect('t.course', 'c')
      .where('t.published = true AND c.archived_at IS NULL');
    if (p.user.campusRole !== 'admin')
      qb.innerJoin(Enrollment, 'e', 'e.course_id = c.id AND e.user_id = :uid', { uid: p.user.id });
    const templates = await qb.orderBy('c.code').addOrderBy('t.title').getMany();
    const versions = await this.db
      .getRepository(LabTemplateVersion)
      .find({ where: templates.map((t) => ({ templateId: t.id, version: t.currentVersion ?? 0 })) });
    return templates.map((t) => {
      const v = versions.find((x) => x.templateId === t.id);
      return {
        id: t.id,
        slug: t.slug,
        title: t.title,
        description: t.description,
        course: { id: t.course!.id, code: t.course!.code, term: t.course!.term, title: t.course!.title },
        resources: v ? { cpus: v.cpuMillis / 1000, memoryMb: v.memoryMb, gpu: v.gpuPolicy.required } : null,
      };
    });
  }

  /** Starts the caller's lab for a template, or returns the one already live (a second click is harmless). */
  async launch(p: Principal, templateId: string): Promise<{ created: boolean; session: LabSession }> {
    const template = /^[0-9a-f-]{36}$/i.test(templateId)
      ? await this.db.getRepository(LabTemplate).findOne({ where: { id: templateId }, relations: { course: true } })
      : null;
    if (!template || !template.published || template.currentVersion === null) {
      throw new AppError(LabErrorCode.TemplateNotFound, 'not_found', 'no published lab template with that id');
    }
    if (template.course!.archivedAt)
      throw new AppError(
        LabErrorCode.CourseArchived,
        'conflict',
        `course ${template.course!.code} is archived: its labs cannot be launched`,
      );
    if (
      p.user.campusRole !== 'admin' &&
      !(await this.db.getRepository(Enrollment).exist({ where: { userId: p.user.id, courseId: template.courseId } }))
    ) {
      throw new AppError(LabErrorCode.NotEnrolled, 'forbidden', `you are not enrolled in ${template.course!.code}`);
    }
    const existing = await this.liveFor(p.user.id, template.id);
    if (existing) return { created: false, session: existing };
    // Launch-stop loops by one person: each new launch runs a container, so they are counted.
    const rate = await this.launchRate.take(p.user.id);
    if (!rate.allowed) {
      throw new AppError(
        LabErrorCode.LaunchRateLimited,
        'capacity',
        `you have started ${this.config.labs.launchRatePerMinute} labs in the last minute; try again in ${rate.retryAfterS} s`,
        rate.retryAfterS,
      );
    }

    // Launches waiting in the GPU queue are not in flight: a full GPU queue must not block CPU labs.
    const inFlight = await this.db
      .getRepository(LabSession)
      .count({ where: { state: In(['queued', 'placing', 'starting']), gpuQueuedAt: IsNull() } });
    if (inFlight >= this.config.labs.launchConcurrency) {
      throw new AppError(
        LabErrorCode.TooManyLaunches,
        'capacity',
        `too many labs are starting right now (${inFlight}); try again in a few seconds`,
        10,
      );
    }
    const version = await this.db
      .getRepository(LabTemplateVersion)
      .findOneByOrFail({ templateId: template.id, version: template.currentVersion });
    let id: string;
    try {
      id = await this.create({
        userId: p.user.id,
        courseId: template.courseId,
        versionId: version.id,
        name: template.slug,
        wantsGpu: version.gpuPolicy.required,
        cpuOnly: false,
        why: 'launched by the student',
      });
    } catch (err) {
      // Two clicks at once: the partial unique index lets one win; the other returns the winner.
      if (err instanceof QueryFailedError && /uq_lab_sessions_active/.test(err.message)) {
        const winner = await this.liveFor(p.user.id, template.id);
        if (winner) return { created: false, session: winner };
      }
      throw err;
    }
    return { created: true, session: (await this.sessions.byId(id))! };
  }

  /**
   * Inserts a queued session and gives it a launch job. The budget is checked and reserved in the
   * same transaction as the insert, under the student's lock: ten launches at once see each other's
   * reservations, so a budget that covers one admits exactly one.
   */
  private async create(o: {
    userId: string;
    courseId: string;
    versionId: string;
    name: string;
    wantsGpu: boolean;
    cpuOnly: boolean;
    why: string;
  }): Promise<string> {
    const id = await this.db.transaction(async (m) => {
      const admission = await this.quota.admit(m, o.userId, o.courseId, o.wantsGpu && !o.cpuOnly);
      const row = await m.getRepository(LabSession).save(
        m.getRepository(LabSession).create({
          userId: o.userId,
          courseId: o.courseId,
          templateVersionId: o.versionId,
          name: o.name,
          state: 'queued',
          stateReason: 'waiting for a rig',
          // No stored token: it is derived from LAB_TOKEN_KEY and the lab's id (lab-token.ts).
          jupyterToken: null,
          gpuReservedMinutes: String(admission.reserveGpuMinutes),
          cpuOnly: o.cpuOnly,
        }),
      );
      await m.query(
        `INSERT INTO lab_session_events (session_id, from_state, to_state, reason) VALUES ($1, NULL, 'queued', $2)`,
        [row.id, o.why],
      );
      return row.id;
    });
    await this.progress.report(id, 0, 'Queued');
    try {
      await this.queue.enqueue(JobName.LaunchLab, { sessionId: id }, { jobId: `${id}.launch` });
    } catch (err) {
      // Redis away: the queued session is the record; the reconciler gives it a job once Redis is back.
      this.log.warn(`launch of ${id} queued without a job (${(err as Error).message}); the reconciler will start it`);
    }
    return id;
  }

  /**
   * A GPU lab whose slice ended on a template that allows CPU: once its container is gone, the same
   * lab starts again without the GPU, on the same home and URL. Refused quietly (the student is told)
   * when the CPU budget does not allow it.
   */
  @JobHandler(JobName.ContinueOnCpu)
  async continueOnCpu({ sessionId }: { sessionId: string }): Promise<string> {
    const old = await this.sessions.byId(sessionId);
    if (!old || old.state !== 'stopped' || !old.continueOnCpu) return 'nothing to continue';
    try {
      const id = await this.create({
        userId: old.userId,
        courseId: old.courseId,
        versionId: old.templateVersionId,
        name: old.name,
        wantsGpu: false,
        cpuOnly: true,
        why: `continues lab ${old.id} on CPU after its GPU time slice`,
      });
      await this.progress.report(sessionId, 100, 'Your lab continues on CPU, without the GPU');
      return id;
    } catch (err) {
      if (err instanceof QueryFailedError && /uq_lab_sessions_active/.test(err.message)) return 'already continued';
      const why = err instanceof AppError ? err.message : 'it could not be started';
      await this.progress.report(sessionId, 100, `Your lab could not continue on CPU: ${why}`);
      return 'refused';
    }
  }

  private async liveFor(userId: string, templateId: string): Promise<LabSession | null> {
    const live = await this.db
      .getRepository(LabSession)
      .createQueryBuilder('s')
      .innerJoin('s.templateVersion', 'v')
      .where('s.user_id = :userId AND v.template_id = :templateId AND s.state IN (:...states)', {
        userId,
        templateId,
        states: ACTIVE_LAB_STATES,
      })
      .getOne();
    return live ? this.sessions.byId(live.id) : null;
  }

  async list(p: Principal, all = false): Promise<LabSession[]> {
    return this.db.getRepository(LabSession).find({
      where: all && p.user.campusRole === 'admin' ? {} : { userId: p.user.id },
      relations: { templateVersion: { template: true }, course: true, rig: true, user: true },
      order: { createdAt: 'DESC' },
      take: 100,
    });
  }

  /**
   * A course's labs as its staff see them, newest first. `url` only where the caller may open the
   * notebook (admins; instructors when the course allows it), and only while the lab is ready.
   */
  async listForCourse(p: Principal, access: CourseAccess) {
    const rows = await this.db.getRepository(LabSession).find({
      where: { courseId: access.course.id },
      relations: { templateVersion: { template: true }, user: true },
      order: { createdAt: 'DESC' },
      take: 500,
    });
    const settings = settingsOf(access.course.settings);
    return rows.map((s) => {
      const tpl = s.templateVersion?.template;
      const may = mayOpenNotebook({
        viewerId: p.user.id,
        viewerCampusRole: p.user.campusRole,
        ownerId: s.userId,
        viewerCourseRole: access.role,
        settings,
      }).ok;
      return {
        id: s.id,
        username: s.user!.username,
        template: tpl ? { id: tpl.id, slug: tpl.slug, title: tpl.title } : null,
        state: s.state,
        reason: s.stateReason,
        createdAt: s.createdAt,
        readyAt: s.readyAt,
        url: may && s.state === 'ready' ? labBaseUrl(s.user!.username, s.name) : null,
      };
    });
  }

  /** The session, if the caller owns it (admins see all). Others get "not found", never a hint it exists. */
  async get(p: Principal, id: string): Promise<LabSession> {
    const s = /^[0-9a-f-]{36}$/i.test(id) ? await this.sessions.byId(id) : null;
    if (!s || (s.userId !== p.user.id && p.user.campusRole !== 'admin')) throw labNotFound();
    return s;
  }

  /** Asks the lab to stop; the home volume is kept. Stopping a stopped lab is harmless. */
  async stop(p: Principal, id: string, reason = 'stopped by the student'): Promise<LabSession> {
    const s = await this.get(p, id);
    if (FINAL.includes(s.state)) return s;
    if (s.state === 'queued' && s.gpuQueuedAt) reason = 'left the GPU queue';
    await this.stopper.stop(s.id, reason, sourcesOf('stopping'), {}, 'Stopping your lab');
    return (await this.sessions.byId(s.id))!;
  }

  /**
   * Streams launch progress until the lab is ready or over: first what happened so far, then each new
   * step. The final event carries `ready`/`failed` and, when ready, the lab's URL (JupyterHub's shape).
   */
  async streamProgress(
    p: Principal,
    id: string,
    send: (e: Record<string, unknown>, eventId?: string) => void,
    closed: () => boolean,
    resumeAfter = '0',
    follow = false,
  ): Promise<void> {
    let session = await this.get(p, id);
    // EventSource reconnects with Last-Event-ID: carry on from there instead of replaying everything.
    let cursor = /^\d+-\d+$/.test(resumeAfter) ? resumeAfter : '0';
    // Following, the stream stays open while the lab lives (slice warnings, stops); else it ends at ready.
    const deadline = follow ? Date.now() + 24 * 3600_000 : Date.now() + (this.config.labs.launchTimeoutS + 60) * 1000;
    for (;;) {
      const { events, lastId } = await this.progress.read(session.id, cursor);
      cursor = lastId;
      for (const { id: eventId, ...e } of events) send({ ...e } as Record<string, unknown> & ProgressEvent, eventId);
      session = (await this.sessions.byId(session.id))!;
      const done = (session.state === 'ready' && !follow) || FINAL.includes(session.state);
      if (done || closed() || Date.now() > deadline) {
        if (done) {
          // The last step ("ready", "failed: why") is written just after the state changes, maybe by
          // another process: wait a moment for it, so the stream ends with it, not before it.
          for (let i = 0; i < 20; i++) {
            const tail = await this.progress.read(session.id, cursor);
            cursor = tail.lastId;
            for (const { id: eventId, ...e } of tail.events)
              send({ ...e } as Record<string, unknown> & ProgressEvent, eventId);
            if (tail.events.some((e) => e.progress >= 100) || events.some((e) => e.progress >= 100)) break;
            await new Promise((r) => setTimeout(r, 50));
          }
          const view = labView(session);
          send({
            progress: 100,
            message: session.state === 'ready' ? 'Your lab is ready' : `Lab ${session.state}: ${session.stateReason}`,
            state: session.state,
            ready: session.state === 'ready',
            failed: session.state === 'failed' || session.state === 'lost',
            url: view.url,
          });
        }
        return;
      }
      await new Promise((r) => setTimeout(r, follow && session.state === 'ready' ? 1000 : 250));
    }
  }
}
