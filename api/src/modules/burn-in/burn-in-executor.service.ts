import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { BurnInRunner, type BurnInCheckResult, type BurnInSettings } from '../../../../spawner/src';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { withTryLock } from '../../platform/db/try-lock';
import { JobHandler } from '../../platform/queue/job-handler.decorator';
import { JobName } from '../../platform/queue/jobs';
import { Gpu, Rig } from '../rigs/rig.entity';
import { RigsService } from '../rigs/rigs.service';
import { BurnInRun, StoredCheck } from './burn-in-run.entity';
import { BurnInMetrics } from './burn-in.metrics';
import { pendingChecks, verdict } from './burn-in.policy';
import { burnInLock, BurnInService, toBurnInGpu } from './burn-in.service';

/**
 * Executes one burn-in run on its rig (the RunBurnIn job): holds the rig's burn-in lock for the
 * whole run (so two portal processes never burn in one rig at once, and a lock nobody holds over a
 * begun run means its worker died), stores each check as it starts and ends, then moves the rig:
 * passed → active, failed → maintenance with the failing check's reason.
 */
@Injectable()
export class BurnInExecutor {
  private readonly log = new Logger(BurnInExecutor.name);
  private readonly runner: BurnInRunner;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @InjectDataSource() private readonly db: DataSource,
    private readonly rigs: RigsService,
    private readonly burnIns: BurnInService,
    private readonly metrics: BurnInMetrics,
  ) {
    this.runner = new BurnInRunner({ deployment: config.deployment });
  }

  private settings(): BurnInSettings {
    const b = this.config.burnIn;
    return {
      cpuSeconds: b.cpuSeconds,
      memoryMb: b.memoryMb,
      diskMb: b.diskMb,
      gpuImage: b.gpuImage,
      checkTimeoutMs: b.checkTimeoutS * 1000,
    };
  }

  /** Idempotent: a run already decided, or being executed elsewhere (lock held), is left alone. */
  @JobHandler(JobName.RunBurnIn)
  async execute({ runId }: { runId: string }): Promise<string> {
    const run = await this.db.getRepository(BurnInRun).findOne({ where: { id: runId } });
    if (!run || run.status !== 'running') return 'done';
    const r = await withTryLock(this.db, burnInLock(run.rigId), () => this.executeLocked(runId));
    return r;
  }

  private async executeLocked(runId: string): Promise<string> {
    const repo = this.db.getRepository(BurnInRun);
    const run = await repo.findOne({ where: { id: runId } });
    if (!run || run.status !== 'running') return 'done';
    if (run.claimedAt) {
      await this.burnIns.replaceInterrupted(run);
      return 'replaced';
    }
    await repo.update({ id: run.id }, { claimedAt: new Date() });
    const rig = await this.db.getRepository(Rig).findOneByOrFail({ id: run.rigId });
    const gpus = await this.db.getRepository(Gpu).find({ where: { rigId: rig.id }, order: { index: 'ASC' } });
    const checks: StoredCheck[] = [...run.checks];
    // Only while the run is still running: a cancelled run's record is not overwritten.
    const save = () => repo.update({ id: run.id, status: 'running' }, { checks });
    const started = performance.now();
    this.log.log({ msg: 'burn-in started', rig: rig.name, run: run.id });
    let results: BurnInCheckResult[];
    let stopped = false;
    try {
      const outcome = await this.runner.run(this.rigs.targetOf(rig), this.settings(), gpus.map(toBurnInGpu), run.id, {
        planned: async (names) => {
          checks.splice(0, checks.length, ...pendingChecks(names));
          await save();
        },
        started: async (name) => {
          const c = checks.find((x) => x.name === name)!;
          Object.assign(c, { status: 'running', startedAt: new Date().toISOString() });
          await save();
          this.log.log({ msg: 'burn-in check started', rig: rig.name, run: run.id, check: name });
        },
        finished: async (res) => {
          const c = checks.find((x) => x.name === res.name)!;
          Object.assign(c, {
            status: res.status,
            detail: res.detail,
            figures: res.figures,
            finishedAt: new Date().toISOString(),
          });
          c.startedAt ??= c.finishedAt;
          await save();
          this.log.log({
            msg: 'burn-in check finished',
            rig: rig.name,
            run: run.id,
            check: res.name,
            status: res.status,
            detail: res.detail,
            figures: res.figures,
          });
        },
        proceed: async () => {
          const [now, r] = await Promise.all([
            repo.findOne({ where: { id: run.id } }),
            this.db.getRepository(Rig).findOne({ where: { id: rig.id } }),
          ]);
          return now?.status === 'running' && r?.state === 'burn-in';
        },
      });
      results = outcome.results;
      stopped = outcome.stopped;
    } catch (err) {
      // Not the rig's fault we can tell (an endpoint riglab cannot use, a database hiccup): the run
      // fails with the reason rather than staying begun forever.
      results = [{ name: 'run', status: 'failed', detail: (err as Error).message, figures: {} }];
    }
    if (stopped) {
      const now = await this.db.getRepository(Rig).findOne({ where: { id: rig.id } });
      await this.burnIns.cancelRunning(
        this.db.manager,
        rig,
        `cancelled: the rig left burn-in (it is ${now?.state ?? 'gone'} now)`,
      );
      return 'stopped';
    }
    const v = verdict(run.id, results);
    const ended = await repo.update(
      { id: run.id, status: 'running' },
      { status: v.result, reason: v.result === 'failed' ? v.reason : '', finishedAt: new Date(), checks },
    );
    // Cancelled while its last check ran (the rig was moved by hand): that decision stands.
    if (!ended.affected) return 'cancelled';
    this.metrics.ended(v.result);
    this.log.log({
      msg: 'burn-in finished',
      rig: rig.name,
      run: run.id,
      result: v.result,
      reason: v.reason,
      seconds: Math.round((performance.now() - started) / 100) / 10,
    });
    await this.burnIns.applyVerdict(rig.name, v.result === 'passed' ? 'active' : 'maintenance', v.reason);
    return v.result;
  }
}
