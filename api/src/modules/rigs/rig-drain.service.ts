import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In } from 'typeorm';
import { JobHandler } from '../../platform/queue/job-handler.decorator';
import { JobName } from '../../platform/queue/jobs';
import { LabProgressService } from '../labs/lab-progress.service';
import { ACTIVE_LAB_STATES, LabSession } from '../labs/lab-session.entity';
import { LabSessionsRepository } from '../labs/lab-sessions.repository';
import { LabStopperService } from '../labs/lab-stopper.service';
import { Rig } from './rig.entity';
import { drainStep } from './rig-lifecycle.policy';
import { RigStateService } from './rig-state.service';

/** What a student sees on a lab whose rig drains (stateReason and the progress stream). */
export const drainWarning = (rig: Pick<Rig, 'stateReason' | 'drainDeadline'>) =>
  `This lab's machine is being taken out of service (${rig.stateReason}). Save your work: the lab will stop at ${rig.drainDeadline?.toISOString() ?? 'any time'}. Your files are kept.`;

/**
 * Enforces drains, periodically and right after a person drains a rig: warns the labs still running
 * there, stops them (files kept) at the deadline, and moves an emptied rig on to its target state.
 */
@Injectable()
export class RigDrainService {
  private readonly log = new Logger(RigDrainService.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly sessions: LabSessionsRepository,
    private readonly progress: LabProgressService,
    private readonly stopper: LabStopperService,
    private readonly states: RigStateService,
  ) {}

  @JobHandler(JobName.EnforceRigDrains)
  async enforce(rigId?: string): Promise<{ warned: number; stopped: number; movedOn: number }> {
    const totals = { warned: 0, stopped: 0, movedOn: 0 };
    const rigs = await this.db
      .getRepository(Rig)
      .find({ where: { state: 'draining', ...(typeof rigId === 'string' ? { id: rigId } : {}) } });
    for (const rig of rigs) {
      const live = await this.db
        .getRepository(LabSession)
        .find({ where: { rigId: rig.id, state: In([...ACTIVE_LAB_STATES]) } });
      const step = drainStep(rig, live.length, new Date());
      if (step.action === 'move-on') {
        await this.states
          .change(rig.name, { to: step.to, reason: `drained: ${rig.stateReason}` }, { name: 'system' })
          .then(() => totals.movedOn++)
          .catch((err: Error) => this.log.warn({ msg: 'drained rig not moved on', rig: rig.name, err: err.message }));
      } else if (step.action === 'stop-labs') {
        for (const s of live.filter((x) => x.state === 'ready'))
          if (await this.stopper.stop(s.id, `its machine (rig ${rig.name}) was drained: ${rig.stateReason}`))
            totals.stopped++;
      } else if (step.action === 'wait') {
        const message = drainWarning(rig);
        for (const s of live.filter((x) => x.state === 'ready' && x.stateReason !== message)) {
          // Same state, new reason: the lab keeps running and shows why it will stop.
          if (await this.sessions.transition(s.id, 'ready', message, {}, ['ready'])) {
            await this.progress.report(s.id, 100, message);
            totals.warned++;
          }
        }
      }
    }
    if (totals.warned || totals.stopped || totals.movedOn) this.log.log({ msg: 'rig drains enforced', ...totals });
    return totals;
  }
}
