import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleInit, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In, Not } from 'typeorm';
import { BurnInRunner, type BurnInGpu } from '../../../../spawner/src';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { withTryLock } from '../../platform/db/try-lock';
import { AppError } from '../../platform/http/app-error';
import { JobHandler } from '../../platform/queue/job-handler.decorator';
import { JobName } from '../../platform/queue/jobs';
import { QueueService } from '../../platform/queue/queue.service';
import { Gpu, Rig, RigEvent } from '../rigs/rig.entity';
import { AppliedChange, RigActor, RigStateService } from '../rigs/rig-state.service';
import { rigNotFound } from '../rigs/rigs.errors';
import { BurnInRun, StoredCheck } from './burn-in-run.entity';
import { burnInRunning } from './burn-in.errors';
import { BurnInMetrics } from './burn-in.metrics';
import { BURN_IN_ACTOR, BurnInRunView, pendingChecks, runView, sweepStep } from './burn-in.policy';

/** The advisory lock a worker holds on a rig for as long as it burns it in. */
export const burnInLock = (rigId: string) => `riglab.burn-in.${rigId}`;

export const toBurnInGpu = (g: Gpu): BurnInGpu => ({ index: g.index, driver: g.driverKind, deviceIds: g.deviceIds });

/** The rig's row, locked for the transaction: state changes and run creation take it in the same order. */
const lockRig = (m: EntityManager, id: string) =>
  m.getRepository(Rig).createQueryBuilder('r').where('r.id = :id', { id }).setLock('pessimistic_write').getOneOrFail();

const clip = (s: string, n = 500) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** A running check of a run that ends early fails with why; checks not begun stay pending. */
function endChecks(checks: StoredCheck[], why: string): StoredCheck[] {
  const at = new Date().toISOString();
  return checks.map((c) => (c.status === 'running' ? { ...c, status: 'failed', detail: why, finishedAt: at } : c));
}

/**
 * Burn-in runs as the rest of riglab sees them: a run starts whenever a rig enters `burn-in` (in the
 * same transaction as the move, whoever makes it: the API, the CLI, a rule), one at a time per rig;
 * leaving burn-in by hand cancels the run. The sweep picks up runs nobody executes (asked from the
 * CLI, which has no queue; or begun by a portal that stopped) and rigs left in burn-in without a
 * decision. Executing a run is BurnInExecutor's.
 */
@Injectable()
export class BurnInService implements OnModuleInit, OnApplicationBootstrap {
  private readonly log = new Logger(BurnInService.name);

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @InjectDataSource() private readonly db: DataSource,
    private readonly states: RigStateService,
    private readonly metrics: BurnInMetrics,
    // Absent in the CLI: its runs wait for a portal's sweep.
    @Optional() private readonly queue?: QueueService,
  ) {}

  onModuleInit(): void {
    this.states.listen({
      inTransaction: (m, change) => this.follow(m, change),
      afterCommit: async ({ rig, from }) => {
        if (rig.state !== 'burn-in' || from === 'burn-in') return;
        const run = await this.db.getRepository(BurnInRun).findOne({ where: { rigId: rig.id, status: 'running' } });
        if (run) await this.dispatch(run.id);
      },
    });
  }

  onApplicationBootstrap(): void {
    // Runs a stopped portal had begun are found and replaced at once, not one sweep interval later.
    if (this.queue && this.config.runWorkers)
      void this.queue
        .enqueue(JobName.SweepBurnIns, {}, { jobId: `boot-burn-in-sweep-${Date.now()}` })
        .catch((err: Error) => this.log.warn({ msg: 'burn-in sweep not queued at boot', error: err.message }));
  }

  private async follow(m: EntityManager, { rig, from, reason, actor }: AppliedChange): Promise<void> {
    if (rig.state === 'burn-in' && from !== 'burn-in') await this.createRun(m, rig, actor.name, reason);
    else if (from === 'burn-in' && rig.state !== 'burn-in' && actor.name !== BURN_IN_ACTOR)
      await this.cancelRunning(m, rig, `cancelled: the rig was moved to ${rig.state} by ${actor.name} (${reason})`);
  }

  /** A new waiting run of the rig, its checks pending. The caller's transaction holds the rig's row lock. */
  private async createRun(m: EntityManager, rig: Rig, requestedBy: string, requestReason: string): Promise<BurnInRun> {
    await this.cancelRunning(m, rig, 'cancelled: replaced by a newer run');
    const gpus = await m.getRepository(Gpu).find({ where: { rigId: rig.id }, order: { index: 'ASC' } });
    const run = await m.getRepository(BurnInRun).save(
      m.getRepository(BurnInRun).create({
        rigId: rig.id,
        requestedBy,
        requestReason: clip(requestReason),
        checks: pendingChecks(BurnInRunner.expectedChecks(gpus.map(toBurnInGpu))),
      }),
    );
    this.log.log({ msg: 'burn-in run created', rig: rig.name, run: run.id, by: requestedBy, reason: requestReason });
    return run;
  }

  /** Ends the rig's running run, if any, as cancelled with `reason`. */
  async cancelRunning(m: EntityManager, rig: Pick<Rig, 'id' | 'name'>, reason: string): Promise<void> {
    const run = await m.getRepository(BurnInRun).findOne({ where: { rigId: rig.id, status: 'running' } });
    if (!run) return;
    const done = await m
      .getRepository(BurnInRun)
      .update(
        { id: run.id, status: 'running' },
        { status: 'cancelled', reason: clip(reason), finishedAt: new Date(), checks: endChecks(run.checks, reason) },
      );
    if (!done.affected) return;
    this.metrics.ended('cancelled');
    this.log.log({ msg: 'burn-in run cancelled', rig: rig.name, run: run.id, reason });
  }

  /** Hands a run to a worker; the jobId is unique per hand-over because only the lock decides who runs it. */
  async dispatch(runId: string): Promise<void> {
    await this.queue?.enqueue(JobName.RunBurnIn, { runId }, { jobId: `burn-in.${runId}.${Date.now()}` });
  }

  /**
   * POST /api/rigs/:name/burn-in: moves the rig into burn-in, which starts a run; a rig already in
   * burn-in with no run going (its last one cancelled, say) gets a new run instead.
   */
  async start(name: string, reason: string, actor: RigActor): Promise<BurnInRunView> {
    const rig = await this.db.getRepository(Rig).findOne({ where: { name } });
    if (!rig) throw rigNotFound(name);
    if (rig.state !== 'burn-in') {
      await this.states.change(name, { to: 'burn-in', reason }, actor);
    } else {
      const run = await this.db.transaction(async (m) => {
        const locked = await lockRig(m, rig.id);
        const running = await m.getRepository(BurnInRun).findOne({ where: { rigId: rig.id, status: 'running' } });
        if (running) throw burnInRunning(name, running.id, running.startedAt);
        if (locked.state !== 'burn-in') return null;
        return this.createRun(m, locked, actor.name, reason);
      });
      // The rig left burn-in meanwhile: ask again through the state change.
      if (!run) return this.start(name, reason, actor);
      await this.dispatch(run.id);
    }
    const run = await this.db
      .getRepository(BurnInRun)
      .findOneOrFail({ where: { rigId: rig.id }, order: { startedAt: 'DESC' } });
    return runView(run, name);
  }

  async runs(name: string): Promise<BurnInRunView[]> {
    const rig = await this.db.getRepository(Rig).findOne({ where: { name } });
    if (!rig) throw rigNotFound(name);
    const runs = await this.db
      .getRepository(BurnInRun)
      .find({ where: { rigId: rig.id }, order: { startedAt: 'DESC' }, take: 20 });
    return runs.map((r) => runView(r, name));
  }

  async latest(): Promise<BurnInRunView[]> {
    const rows: Array<{ id: string }> = await this.db.query(
      `SELECT DISTINCT ON (b.rig_id) b.id FROM burn_in_runs b JOIN rigs r ON r.id = b.rig_id
       WHERE r.state <> 'retired' ORDER BY b.rig_id, b.started_at DESC`,
    );
    if (!rows.length) return [];
    const runs = await this.db
      .getRepository(BurnInRun)
      .find({ where: { id: In(rows.map((r) => r.id)) }, relations: { rig: true } });
    return runs.map((r) => runView(r, r.rig!.name)).sort((a, b) => a.rig.localeCompare(b.rig));
  }

  /**
   * A run a worker had begun but nobody holds the lock for: that worker is gone (a portal restart).
   * It is cancelled with the reason, and a new run replaces it while the rig is still in burn-in.
   * The caller holds the rig's burn-in lock.
   */
  async replaceInterrupted(run: BurnInRun): Promise<void> {
    const current = run.checks.find((c) => c.status === 'running')?.name;
    const fresh = await this.db.transaction(async (m) => {
      const rig = await lockRig(m, run.rigId);
      const why = `interrupted: the portal stopped while ${current ? `the ${current} check` : 'the run'} was running`;
      await this.cancelRunning(m, rig, rig.state === 'burn-in' ? `${why}; a new run replaces it` : why);
      return rig.state === 'burn-in' ? this.createRun(m, rig, BURN_IN_ACTOR, `${why} (run ${run.id})`) : null;
    });
    if (fresh) await this.dispatch(fresh.id);
  }

  /** Moves a rig out of burn-in by a run's result; a rig that left burn-in meanwhile stays where it is. */
  async applyVerdict(rigName: string, to: 'active' | 'maintenance', reason: string): Promise<void> {
    try {
      await this.states.change(rigName, { to, reason, onlyFrom: 'burn-in' }, { name: BURN_IN_ACTOR });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      this.log.warn({ msg: 'burn-in result not applied', rig: rigName, to, error: err.message });
    }
  }

  @JobHandler(JobName.SweepBurnIns)
  sweep(): Promise<{ executed: number; replaced: number; applied: number; started: number } | 'busy'> {
    return withTryLock(this.db, 'riglab.burn-in-sweep', async () => {
      const counts = { executed: 0, replaced: 0, applied: 0, started: 0 };
      const rigs = await this.db.getRepository(Rig).find({ where: { state: Not('retired') } });
      const running = await this.db.getRepository(BurnInRun).find({ where: { status: 'running' } });
      for (const rig of rigs) {
        const run = running.find((r) => r.rigId === rig.id) ?? null;
        if (!run && rig.state !== 'burn-in') continue;
        // A held lock means a worker is burning the rig in right now: nothing to repair.
        await withTryLock(this.db, burnInLock(rig.id), () => this.sweepRig(rig, run, counts));
      }
      return counts;
    });
  }

  private async sweepRig(
    rig: Rig,
    seen: BurnInRun | null,
    counts: { executed: number; replaced: number; applied: number; started: number },
  ): Promise<void> {
    // Re-read under the lock: a worker may have finished the run since the list was read.
    const run = seen
      ? await this.db.getRepository(BurnInRun).findOne({ where: { id: seen.id, status: 'running' } })
      : null;
    const fresh = await this.db.getRepository(Rig).findOneByOrFail({ id: rig.id });
    const latest = await this.db
      .getRepository(BurnInRun)
      .findOne({ where: { rigId: rig.id }, order: { startedAt: 'DESC' } });
    const entered = await this.db
      .getRepository(RigEvent)
      .findOne({ where: { rigId: rig.id, toState: 'burn-in' }, order: { id: 'DESC' } });
    const step = sweepStep(fresh.state, run, latest, entered?.at ?? null);
    switch (step.action) {
      case 'none':
        return;
      case 'execute':
        counts.executed++;
        return this.dispatch(step.runId);
      case 'replace-interrupted':
        counts.replaced++;
        return this.replaceInterrupted(run!);
      case 'apply-verdict':
        counts.applied++;
        return this.applyVerdict(fresh.name, step.to, step.reason);
      case 'start-run': {
        counts.started++;
        const created = await this.db.transaction(async (m) => {
          const locked = await lockRig(m, rig.id);
          if (locked.state !== 'burn-in') return null;
          if (await m.getRepository(BurnInRun).exist({ where: { rigId: rig.id, status: 'running' } })) return null;
          return this.createRun(m, locked, BURN_IN_ACTOR, 'the rig was in burn-in without a run');
        });
        if (created) await this.dispatch(created.id);
        return;
      }
      default: {
        const never: never = step;
        return never;
      }
    }
  }
}
