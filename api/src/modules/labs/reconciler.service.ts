import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, Not } from 'typeorm';
import type { LabContainer, Spawner } from '../../../../spawner/src';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { JobHandler } from '../../platform/queue/job-handler.decorator';
import { JobName } from '../../platform/queue/jobs';
import { QueueService } from '../../platform/queue/queue.service';
import { Rig } from '../rigs/rig.entity';
import { RigsService } from '../rigs/rigs.service';
import { ACTIVE_LAB_STATES, LabSession } from './lab-session.entity';
import { LabSessionsRepository } from './lab-sessions.repository';
import { LabProgressService } from './lab-progress.service';
import { LabRunnerService } from './lab-runner.service';
import { SPAWNER } from './spawner.provider';

export interface ReconcileReport {
  orphansRemoved: number;
  deadStopped: number;
  stuckFailed: number;
  lost: number;
  slotsFreed: number;
  relaunched: number;
}

/** Longest a stop may take before the reconciler does it again. */
const STOP_GRACE_MS = 60_000;

/**
 * Level-triggered repair (DESIGN.md; like JupyterHub's start-up check and Kubernetes controllers):
 * compares Postgres with each rig's labelled containers and fixes the drift — dead containers, orphans,
 * sessions stuck past their timeout, labs on rigs gone for longer than the grace period, and GPU
 * slots held by nobody. Safe to run at any time, from any process, any number of times.
 */
@Injectable()
export class ReconcilerService {
  private readonly log = new Logger(ReconcilerService.name);

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(SPAWNER) private readonly spawner: Spawner,
    private readonly sessions: LabSessionsRepository,
    private readonly runner: LabRunnerService,
    private readonly rigs: RigsService,
    private readonly queue: QueueService,
    private readonly progress: LabProgressService,
  ) {}

  @JobHandler(JobName.Reconcile)
  async reconcile(): Promise<ReconcileReport> {
    const report: ReconcileReport = {
      orphansRemoved: 0,
      deadStopped: 0,
      stuckFailed: 0,
      lost: 0,
      slotsFreed: 0,
      relaunched: 0,
    };
    const now = Date.now();
    const launchMs = this.config.labs.launchTimeoutS * 1000;
    const live = await this.sessions.inStates([...ACTIVE_LAB_STATES]);

    for (const rig of await this.db.getRepository(Rig).find({ where: { state: Not('retired') } })) {
      const target = this.rigs.targetOf(rig);
      let containers: LabContainer[];
      try {
        containers = await this.spawner.list(target, this.config.deployment);
        await this.db.getRepository(Rig).update({ id: rig.id }, { lastSeenAt: new Date() });
      } catch (err) {
        report.lost += await this.loseIfGone(rig, live, (err as Error).message);
        continue;
      }
      const bySession = new Map(containers.map((c) => [c.sessionId, c]));
      // Orphans: containers of this deployment whose session is over or unknown.
      const liveIds = new Set(live.map((s) => s.id));
      for (const c of containers) {
        if (liveIds.has(c.sessionId)) continue;
        // Re-read: a launch that began after `live` was read has a container but is no orphan.
        const fresh = await this.sessions.byId(c.sessionId);
        if (fresh && ACTIVE_LAB_STATES.includes(fresh.state)) continue;
        await this.spawner.stop(target, c.handle, { now: true });
        await this.spawner.remove(target, c.handle);
        report.orphansRemoved++;
      }
      // Dead containers: a ready lab whose container is gone or exited.
      for (const s of live.filter((x) => x.rigId === rig.id && x.state === 'ready')) {
        const c = bySession.get(s.id);
        const status = c
          ? await this.spawner.poll(target, c.handle)
          : { state: 'exited' as const, exitCode: null, reason: 'container is gone' };
        if (status.state === 'exited') {
          const moved = await this.sessions.transition(
            s.id,
            'stopping',
            `the lab's container stopped (${status.reason})`,
            {},
            ['ready'],
          );
          if (moved) {
            await this.runner.removeContainer(moved.handle ? moved : s);
            await this.sessions.transition(
              s.id,
              'stopped',
              `the lab's container stopped (${status.reason})`,
              { stoppedAt: new Date() },
              ['stopping'],
            );
            report.deadStopped++;
          }
        }
      }
    }

    for (const s of live) {
      const age = now - s.stateChangedAt.getTime();
      const sinceLaunch = now - s.createdAt.getTime();
      // Launches in the fair GPU queue wait as long as the queue allows; GpuQueueService expires them.
      if (s.state === 'queued' && s.gpuQueuedAt) continue;
      if ((s.state === 'queued' || s.state === 'placing') && sinceLaunch > launchMs) {
        await this.runner.fail(s, `no rig had room within ${this.config.labs.launchTimeoutS} s`);
        report.stuckFailed++;
      } else if (s.state === 'starting' && now - (s.startedAt ?? s.createdAt).getTime() > launchMs + 30_000) {
        await this.runner.fail(s, `the lab did not start within ${this.config.labs.launchTimeoutS} s`);
        report.stuckFailed++;
      } else if (
        ['queued', 'placing', 'starting'].includes(s.state) &&
        age > 15_000 &&
        !(await this.progress.working(s.id))
      ) {
        // A launch whose job vanished (Redis lost, portal killed): give it a job again; the job is idempotent.
        await this.queue.enqueue(
          JobName.LaunchLab,
          { sessionId: s.id },
          { jobId: `${s.id}.launch.r${Math.floor(now / 15_000)}` },
        );
        report.relaunched++;
      } else if (s.state === 'stopping' && age > STOP_GRACE_MS / 4) {
        await this.queue.enqueue(
          JobName.StopLab,
          { sessionId: s.id },
          { jobId: `${s.id}.stop.r${Math.floor(now / 15_000)}` },
        );
      }
    }

    const [, freed] = (await this.db.query(
      `UPDATE gpu_slots SET session_id = NULL, reserved_at = NULL
        WHERE session_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM lab_sessions s WHERE s.id = gpu_slots.session_id AND s.state IN ('placing','starting','ready','stopping'))
          AND reserved_at < now() - interval '10 seconds'`,
    )) as [unknown, number];
    report.slotsFreed = freed;
    if (Object.values(report).some((n) => n > 0)) this.log.log(`reconciled: ${JSON.stringify(report)}`);
    return report;
  }

  /** A rig that does not answer: after the grace period its labs are lost and their slots freed. */
  private async loseIfGone(rig: Rig, live: LabSession[], why: string): Promise<number> {
    const seen = rig.lastSeenAt?.getTime() ?? rig.createdAt.getTime();
    if (Date.now() - seen < this.config.labs.lostGraceS * 1000) return 0;
    let lost = 0;
    for (const s of live.filter((x) => x.rigId === rig.id && ['starting', 'ready', 'stopping'].includes(x.state))) {
      if (await this.sessions.transition(s.id, 'lost', `rig ${rig.name} stopped answering (${why})`)) lost++;
    }
    return lost;
  }
}
