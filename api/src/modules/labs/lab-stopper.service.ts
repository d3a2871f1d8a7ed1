import { Injectable } from '@nestjs/common';
import { JobName } from '../../platform/queue/jobs';
import { QueueService } from '../../platform/queue/queue.service';
import { LabState } from './lab-session.entity';
import { LabProgressService } from './lab-progress.service';
import { LabSessionsRepository, SessionPatch } from './lab-sessions.repository';
import { RouteTable } from './route-table';

/**
 * Stops a lab — asked by its student, or on the portal's own initiative (idle culling, a GPU slice's
 * end, a spent budget, a drain): moves it to `stopping` with the reason, tells the student on the
 * lab's progress stream, and hands the container to the stop job. The home volume is always kept.
 * Returns false when the lab had moved on.
 */
@Injectable()
export class LabStopperService {
  constructor(
    private readonly sessions: LabSessionsRepository,
    private readonly progress: LabProgressService,
    private readonly queue: QueueService,
    private readonly routes: RouteTable,
  ) {}

  async stop(
    sessionId: string,
    reason: string,
    from: LabState[] = ['ready'],
    patch: SessionPatch = {},
    message = `Your lab is stopping: ${reason}. Your files are kept.`,
  ): Promise<boolean> {
    const moved = await this.sessions.transition(sessionId, 'stopping', reason, patch, from);
    if (!moved) return false;
    this.routes.forget(moved.user!.username, moved.name);
    await this.progress.report(sessionId, 100, message);
    await this.queue.enqueue(JobName.StopLab, { sessionId }, { jobId: `${sessionId}.stop` });
    return true;
  }
}
