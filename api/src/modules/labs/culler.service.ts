import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { JobHandler } from '../../platform/queue/job-handler.decorator';
import { JobName } from '../../platform/queue/jobs';
import { LabStopperService } from './lab-stopper.service';
import { LabProgressService } from './lab-progress.service';
import { LabSessionsRepository } from './lab-sessions.repository';
import { labBaseUrl } from './lab-runner.service';
import { kernelActivity } from './jupyter.client';
import { cullDecision } from './labs.policy';
import { tokenOf } from './lab-token';

/**
 * Stops idle and over-age labs, with a warning first (visible on the lab and in its progress stream).
 * Busy kernels count as activity, so a long training run is never culled as idle.
 */
@Injectable()
export class CullerService {
  private readonly log = new Logger(CullerService.name);

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly sessions: LabSessionsRepository,
    private readonly progress: LabProgressService,
    private readonly stopper: LabStopperService,
  ) {}

  @JobHandler(JobName.CullIdle)
  async cull(): Promise<{ warned: number; stopped: number }> {
    let warned = 0;
    let stopped = 0;
    for (const s of await this.sessions.inStates(['ready'])) {
      const version = s.templateVersion!;
      let busy = false;
      let last = s.lastActivityAt ?? s.readyAt ?? s.createdAt;
      try {
        const a = await kernelActivity({
          endpoint: s.endpoint!,
          baseUrl: labBaseUrl(s.user!.username, s.name),
          token: tokenOf(this.config.labTokenKey, s),
        });
        busy = a.busy;
        if (a.lastActivity && a.lastActivity > last) last = a.lastActivity;
      } catch {
        // Jupyter not answering in time (a heavy training run can starve it): it may well be busy, so
        // only the maximum age applies this round. Dead containers are the reconciler's business.
        busy = true;
      }
      const now = new Date();
      if (s.cullWarnedAt && (busy || last > s.cullWarnedAt)) {
        // Active again since the warning: the warning no longer holds.
        await this.sessions.transition(s.id, 'ready', 'active again', { cullWarnedAt: null, lastActivityAt: last }, [
          'ready',
        ]);
        continue;
      }
      const d = cullDecision({
        now,
        startedAt: s.readyAt ?? s.createdAt,
        lastActivityAt: last,
        busy,
        idleTimeoutS: version.idleTimeoutS,
        maxAgeS: version.maxAgeS,
        warnedAt: s.cullWarnedAt,
        warnAheadS: this.config.labs.cullWarnS,
      });
      if (d.action === 'warn') {
        const message = `Your lab will stop at ${d.stopAt.toISOString()} because ${d.reason}. Use it (or keep a kernel busy) to keep it running.`;
        await this.sessions.transition(s.id, 'ready', message, { cullWarnedAt: now, lastActivityAt: last }, ['ready']);
        await this.progress.report(s.id, 100, message);
        warned++;
      } else if (d.action === 'stop') {
        if (await this.stopper.stop(s.id, d.reason)) stopped++;
      }
    }
    if (warned || stopped) this.log.log(`culler: warned ${warned}, stopped ${stopped}`);
    return { warned, stopped };
  }
}
