import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { SpawnHandle, Spawner } from '../../../../spawner/src';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { JobHandler } from '../../platform/queue/job-handler.decorator';
import { JobName } from '../../platform/queue/jobs';
import { QueueService } from '../../platform/queue/queue.service';
import { Rig } from '../rigs/rig.entity';
import { RigStateService } from '../rigs/rig-state.service';
import { RigsService } from '../rigs/rigs.service';
import { LabMetrics } from './lab.metrics';
import { LabSpecService } from './lab-spec.service';
import { LabProgressService } from './lab-progress.service';
import { LabSession } from './lab-session.entity';
import { LabSessionsRepository } from './lab-sessions.repository';
import { waitForJupyter } from './jupyter.client';
import { PlacementService } from './placement.service';
import { SPAWNER } from './spawner.provider';

/** `/user/<name>/<lab>/`: JupyterHub's URL scheme. */
export const labBaseUrl = (username: string, lab: string) => `/user/${username}/${lab}/`;

/** One home per student per course, named so that it is found again at the next launch. */
export function homeVolumeName(deployment: string, username: string, courseCode: string, term: string): string {
  return `riglab-home-${deployment}-${username}-${courseCode}-${term}`.toLowerCase().replace(/[^a-z0-9_.-]/g, '-');
}

const RETRY_PLACEMENT_MS = 2000;

/**
 * Runs launches and stops as jobs. Each handler re-reads the session and acts only on the state it
 * finds (jobs may run twice, late, or after a portal restart); the spawner's calls are idempotent.
 */
@Injectable()
export class LabRunnerService {
  private readonly log = new Logger(LabRunnerService.name);

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(SPAWNER) private readonly spawner: Spawner,
    private readonly sessions: LabSessionsRepository,
    private readonly placement: PlacementService,
    private readonly progress: LabProgressService,
    private readonly rigs: RigsService,
    private readonly queue: QueueService,
    private readonly metrics: LabMetrics,
    private readonly specs: LabSpecService,
    private readonly rigStates: RigStateService,
  ) {}

  @JobHandler(JobName.LaunchLab)
  async launch({ sessionId }: { sessionId: string }): Promise<string> {
    let session = await this.sessions.byId(sessionId);
    if (!session) return 'gone';
    const timeoutMs = this.config.labs.launchTimeoutS * 1000;
    try {
      if (session.state === 'queued' || session.state === 'placing') {
        // Waiting for a GPU is the fair queue's business (GpuQueueService): it places in its order.
        if (session.gpuQueuedAt) return 'in the GPU queue';
        if (Date.now() > session.createdAt.getTime() + timeoutMs) {
          await this.fail(
            session,
            `no rig had room within ${this.config.labs.launchTimeoutS} s (${session.stateReason || 'waiting'})`,
          );
          return 'timed out waiting';
        }
        const wantsGpu = session.templateVersion!.gpuPolicy.required && !session.cpuOnly;
        // Others already wait for a GPU: a newcomer joins behind them instead of taking a slot first.
        if (wantsGpu && (await this.gpuQueueLength()) > 0) {
          await this.joinGpuQueue(session, 'others are waiting for a GPU');
          return 'joined the GPU queue';
        }
        if (!session.stateReason.startsWith('waiting: ')) {
          await this.progress.report(sessionId, 10, 'Looking for a rig with room for this lab');
        }
        const placed = await this.placement.place(session);
        if (!placed.ok) {
          if (!placed.retryable) {
            await this.fail(session, placed.reason);
            return 'unplaceable';
          }
          if (placed.waitFor === 'gpu' && wantsGpu) {
            await this.joinGpuQueue(session, placed.reason);
            return 'joined the GPU queue';
          }
          await this.wait(session, placed.reason);
          return 'queued';
        }
        session = placed.session;
        await this.progress.report(sessionId, 20, `Placed on rig ${placed.rig.name}`);
      }
      if (session.state !== 'starting') return `nothing to do in state ${session.state}`;
      // The start has its own time from the moment of placement (a launch may have queued for a GPU long before).
      return await this.start(session, (session.startedAt ?? session.createdAt).getTime() + timeoutMs);
    } catch (err) {
      const current = await this.sessions.byId(sessionId);
      const reason = await this.explain(current, (err as Error).message);
      this.log.warn(`launch of ${sessionId} failed: ${reason}`);
      if (current) await this.fail(current, reason);
      return 'failed';
    }
  }

  /**
   * Says why a start failed in a student's words. A rig whose disk is full fails every launch placed on
   * it: it is drained (no new launches; its running labs go on) with the reason, for campus IT to see.
   */
  private async explain(session: LabSession | null, message: string): Promise<string> {
    if (!session?.rigId || !/no space left on device/i.test(message)) return message;
    const rig = await this.db.getRepository(Rig).findOneBy({ id: session.rigId });
    if (!rig) return message;
    const why = `rig ${rig.name} has no disk space left`;
    if (rig.state === 'active') {
      await this.db.getRepository(Rig).update({ id: rig.id }, { lastFaultAt: new Date() });
      await this.rigStates
        .change(
          rig.name,
          { to: 'draining', reason: `${why}: a launch there failed`, byRule: true },
          { name: 'rule:disk-full' },
        )
        .catch((err: Error) => this.log.warn(`could not drain ${rig.name}: ${err.message}`));
    }
    return `${why}; your files are safe, launch again to get another rig (the engine said: ${message.length > 300 ? `…${message.slice(-300)}` : message})`;
  }

  private async gpuQueueLength(): Promise<number> {
    const [{ n }] = await this.db.query(
      `SELECT count(*)::int AS n FROM lab_sessions WHERE state = 'queued' AND gpu_queued_at IS NOT NULL`,
    );
    return n;
  }

  /** Every suitable GPU is busy: the launch waits in the fair queue, which starts it when its turn comes. */
  private async joinGpuQueue(session: LabSession, why: string): Promise<void> {
    const moved = await this.sessions.transition(
      session.id,
      'queued',
      `waiting for a GPU: ${why}`,
      { gpuQueuedAt: new Date() },
      ['queued', 'placing'],
    );
    if (!moved) return;
    await this.progress.report(
      session.id,
      5,
      'Every suitable GPU is busy: you joined the GPU queue. Your lab starts by itself when a GPU frees; stop it to leave the queue.',
    );
    await this.kickGpuQueue();
  }

  /** Asks the fair GPU queue for a round now (a slot freed, or a launch joined). */
  private async kickGpuQueue(): Promise<void> {
    await this.queue
      .enqueue(JobName.DispatchGpuQueue, {}, { jobId: `gpu-queue.${Math.floor(Date.now() / 250)}` })
      .catch(() => undefined);
  }

  /** Keeps a launch in the queue: says why and where it stands, and tries again shortly. */
  private async wait(session: LabSession, why: string): Promise<void> {
    const reason = `waiting: ${why}`;
    // Written only when the reason changes: a queue of waiting launches costs no writes per retry.
    if (session.stateReason !== reason) {
      if (!(await this.sessions.transition(session.id, 'queued', reason, {}, ['queued']))) return;
    }
    const [{ ahead, total }] = await this.db.query(
      `SELECT count(*) FILTER (WHERE created_at < $1)::int AS ahead, count(*)::int AS total FROM lab_sessions WHERE state IN ('queued', 'placing')`,
      [session.createdAt],
    );
    await this.progress.heartbeat(session.id, RETRY_PLACEMENT_MS / 1000 + 10);
    await this.progress.reportIfChanged(
      session.id,
      5,
      `Waiting in the queue (position ${ahead + 1} of ${total}): ${why}`,
    );
    await this.queue.enqueue(
      JobName.LaunchLab,
      { sessionId: session.id },
      { jobId: `${session.id}.launch.${Date.now()}`, delay: RETRY_PLACEMENT_MS },
    );
  }

  /**
   * Starts the placed session's container and waits for Jupyter. Says 'ready' only when this job made
   * the lab ready: a job run twice (a stalled job retried, the reconciler) never counts a lab twice.
   */
  private async start(session: LabSession, deadline: number): Promise<string> {
    // Creating and starting a container takes seconds (the engine client's timeout bounds it at 30 s).
    await this.progress.heartbeat(session.id, 40);
    const rig = session.rig ?? (await this.db.getRepository(Rig).findOneByOrFail({ id: session.rigId! }));
    const target = this.rigs.targetOf(rig);
    const spec = await this.specs.specOf(session);
    const { handle, url } = await this.spawner.start(
      target,
      spec,
      (p) => void this.progress.report(session.id, 20 + p.progress * 0.6, p.message),
    );
    const updated = await this.sessions.transition(
      session.id,
      'starting',
      'container running; waiting for Jupyter',
      { handle: handle as unknown as Record<string, unknown>, endpoint: url },
      ['starting'],
    );
    if (!updated) {
      // Stopped while we were starting: the stop job (or the reconciler) removes the container.
      return `nothing to do: the lab is ${(await this.sessions.byId(session.id))?.state ?? 'gone'}`;
    }
    await this.progress.report(session.id, 85, 'Waiting for Jupyter to answer');
    await waitForJupyter({ endpoint: url, baseUrl: spec.baseUrl, token: spec.token }, deadline, async () => {
      await this.progress.heartbeat(session.id, 10);
      return (await this.sessions.byId(session.id))?.state !== 'starting';
    });
    const ready = await this.sessions.transition(
      session.id,
      'ready',
      'Jupyter is answering',
      { readyAt: new Date(), lastActivityAt: new Date() },
      ['starting'],
    );
    if (!ready) return `nothing to do: the lab is ${(await this.sessions.byId(session.id))?.state ?? 'gone'}`;
    this.metrics.spawnDuration.observe({ status: 'success' }, (Date.now() - session.createdAt.getTime()) / 1000);
    await this.progress.report(session.id, 100, 'Your lab is ready');
    return 'ready';
  }

  /** Ends a launch that cannot go on: removes whatever container it had, frees its GPU slot, says why. */
  async fail(session: LabSession, reason: string): Promise<void> {
    const failed = await this.sessions.transition(session.id, 'failed', reason);
    if (!failed) return;
    if (session.gpuId) await this.kickGpuQueue();
    this.metrics.spawnDuration.observe({ status: 'failure' }, (Date.now() - session.createdAt.getTime()) / 1000);
    await this.progress.report(session.id, 100, `Launch failed: ${reason}`);
    // Nothing of a failed launch is worth a graceful stop; if the rig is away, the reconciler removes it later.
    await this.removeContainer(session, true).catch((err: Error) =>
      this.log.warn(`cleanup of ${session.id}: ${err.message}`),
    );
  }

  @JobHandler(JobName.StopLab)
  async stop({ sessionId }: { sessionId: string }): Promise<string> {
    const session = await this.sessions.byId(sessionId);
    if (!session || session.state !== 'stopping') return 'nothing to stop';
    await this.removeContainer(session);
    await this.sessions.transition(sessionId, 'stopped', session.stateReason || 'stopped', { stoppedAt: new Date() }, [
      'stopping',
    ]);
    await this.progress.report(sessionId, 100, 'Your lab has stopped; your files are kept');
    if (session.gpuId) await this.kickGpuQueue();
    if (session.continueOnCpu)
      await this.queue.enqueue(JobName.ContinueOnCpu, { sessionId }, { jobId: `${sessionId}.cpu` });
    return 'stopped';
  }

  /** Stops and removes the session's container (never its home). Idempotent. */
  async removeContainer(session: LabSession, now = false): Promise<void> {
    const handle = session.handle as unknown as SpawnHandle | null;
    if (!handle || !session.rigId) return;
    const rig = session.rig ?? (await this.db.getRepository(Rig).findOneBy({ id: session.rigId }));
    if (!rig) return;
    const target = this.rigs.targetOf(rig);
    await this.spawner.stop(target, handle, { now });
    await this.spawner.remove(target, handle);
  }
}
