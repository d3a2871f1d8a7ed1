import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { withTryLock } from '../../platform/db/try-lock';
import { JobHandler } from '../../platform/queue/job-handler.decorator';
import { JobName } from '../../platform/queue/jobs';
import { QueueService } from '../../platform/queue/queue.service';
import { LabProgressService } from '../labs/lab-progress.service';
import { LabSessionsRepository } from '../labs/lab-sessions.repository';
import { slotFits, SlotCandidate } from '../labs/labs.policy';
import { PlacementService } from '../labs/placement.service';
import type { GpuPolicy } from '../templates/lab-template.entity';
import { QuotaMetrics } from './quota.metrics';
import { QuotaService } from './quota.service';
import { estimateWaits, fmtMinutes, orderQueue, QueuedLaunch } from './quota.policy';

interface Waiting extends QueuedLaunch {
  courseId: string;
  policy: GpuPolicy;
  createdAt: Date;
}

interface Slot extends SlotCandidate {
  /** When the lab holding it gives it back (its slice end); null: free now. */
  busyUntil: Date | null;
  held: boolean;
}

/** A queue of size n only needs its first few placed per round: at most this many placement attempts. */
const MAX_ATTEMPTS_PER_ROUND = 50;

/**
 * The fair GPU queue. When every suitable GPU slot is busy a launch waits here instead of polling;
 * each round (every GPU_QUEUE_INTERVAL_S, and at once when a slot frees) orders the waiting launches by
 * their students' decayed GPU usage (least recent use first, then arrival), offers each free slot to
 * the first launch it suits, and tells everyone still waiting their position and estimated wait.
 * One round at a time portal-wide (a Postgres advisory lock): the order is never raced.
 */
@Injectable()
export class GpuQueueService {
  private readonly log = new Logger(GpuQueueService.name);

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @InjectDataSource() private readonly db: DataSource,
    private readonly placement: PlacementService,
    private readonly sessions: LabSessionsRepository,
    private readonly progress: LabProgressService,
    private readonly queue: QueueService,
    private readonly metrics: QuotaMetrics,
    private readonly quota: QuotaService,
  ) {}

  @JobHandler(JobName.DispatchGpuQueue)
  async dispatch(): Promise<{ waiting: number; admitted: number; expired: number } | 'busy'> {
    const now = new Date();
    return withTryLock(this.db, 'riglab.gpu-queue', async () => {
      const started = process.hrtime.bigint();
      const result = await this.round(now);
      this.metrics.dispatchSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      return result;
    });
  }

  /** The queue in fair order, with each student's decayed GPU usage. */
  async ordered(now = new Date()): Promise<Waiting[]> {
    const rows: Array<{
      id: string;
      user_id: string;
      course_id: string;
      gpu_queued_at: Date;
      created_at: Date;
      gpu_policy: GpuPolicy;
    }> = await this.db.query(
      `SELECT s.id, s.user_id, s.course_id, s.gpu_queued_at, s.created_at, v.gpu_policy
           FROM lab_sessions s JOIN lab_template_versions v ON v.id = s.template_version_id
          WHERE s.state = 'queued' AND s.gpu_queued_at IS NOT NULL`,
    );
    if (!rows.length) return [];
    const half = this.config.quota.usageHalfLifeMs;
    // Usage older than ten half-lives weighs under 0.1%: left out, so the sum stays cheap.
    const usage: Array<{ user_id: string; usage: number }> = await this.db.query(
      `SELECT user_id, sum(-gpu_minutes * power(0.5, extract(epoch FROM ($2::timestamptz - at)) * 1000 / $3::float8))::float8 AS usage
         FROM ledger_entries
        WHERE kind = 'debit' AND gpu_minutes < 0 AND user_id = ANY($1::uuid[]) AND at > $2::timestamptz - make_interval(secs => $3::float8 * 10 / 1000.0)
        GROUP BY user_id`,
      [[...new Set(rows.map((r) => r.user_id))], now, half],
    );
    const byUser = new Map(usage.map((u) => [u.user_id, u.usage]));
    return orderQueue(
      rows.map((r) => ({
        sessionId: r.id,
        userId: r.user_id,
        courseId: r.course_id,
        queuedAt: r.gpu_queued_at,
        createdAt: r.created_at,
        usage: byUser.get(r.user_id) ?? 0,
        policy: r.gpu_policy,
      })),
    );
  }

  private async slots(): Promise<Slot[]> {
    const rows: Array<{
      id: string;
      model: string;
      driver_kind: string;
      vram_mb: number;
      share: string;
      healthy: boolean;
      held: boolean;
      slice_ends_at: Date | null;
    }> = await this.db.query(
      `SELECT s.id, g.model, g.driver_kind, g.vram_mb, s.share, g.healthy, s.session_id IS NOT NULL AS held, ls.slice_ends_at
         FROM gpu_slots s JOIN gpus g ON g.id = s.gpu_id JOIN rigs r ON r.id = g.rig_id
         LEFT JOIN lab_sessions ls ON ls.id = s.session_id
        WHERE r.state = 'active'`,
    );
    return rows.map((r) => ({
      slotId: r.id,
      gpuModel: r.model,
      driverKind: r.driver_kind,
      vramMb: r.vram_mb,
      share: Number(r.share),
      healthy: r.healthy,
      held: r.held,
      busyUntil: r.held ? (r.slice_ends_at ?? null) : null,
    }));
  }

  private async round(now: Date): Promise<{ waiting: number; admitted: number; expired: number }> {
    const queue = await this.ordered(now);
    if (!queue.length) return { waiting: 0, admitted: 0, expired: 0 };
    let expired = 0;
    const maxWaitMs = this.config.quota.queueMaxWaitS * 1000;
    const sessions = this.sessions;
    const live: Waiting[] = [];
    for (const w of queue) {
      if (now.getTime() - w.queuedAt.getTime() > maxWaitMs) {
        const why = `no suitable GPU came free within ${fmtMinutes(maxWaitMs / 60_000)} in the queue; please launch again later`;
        if (await sessions.transition(w.sessionId, 'failed', why, {}, ['queued'])) {
          await this.progress.report(w.sessionId, 100, `Launch failed: ${why}`);
          expired++;
        }
      } else live.push(w);
    }
    // Offer each free slot to the first launch in fair order that it suits.
    const slots = await this.slots();
    const free = slots.filter((s) => !s.held && s.healthy);
    let admitted = 0;
    let attempts = 0;
    const placed = new Set<string>();
    for (const w of live) {
      if (!free.length || attempts >= MAX_ATTEMPTS_PER_ROUND) break;
      if (!free.some((s) => slotFits(s, w.policy))) continue;
      attempts++;
      const s = await sessions.byId(w.sessionId);
      if (!s || s.state !== 'queued') continue;
      const outcome = await this.placement.place(s);
      if (!outcome.ok) continue;
      placed.add(w.sessionId);
      admitted++;
      // The slot it took is no longer free for those behind it.
      const slotRow = (await this.db.query(`SELECT id FROM gpu_slots WHERE session_id = $1`, [s.id])) as Array<{
        id: string;
      }>;
      const i = free.findIndex((x) => x.slotId === slotRow[0]?.id);
      if (i >= 0) free.splice(i, 1);
      await this.progress.report(s.id, 20, `A GPU came free: placed on rig ${outcome.rig.name}`);
      await this.queue.enqueue(JobName.LaunchLab, { sessionId: s.id }, { jobId: `${s.id}.launch.gpu` });
    }
    await this.publishPositions(
      live.filter((w) => !placed.has(w.sessionId)),
      slots,
      now,
    );
    if (admitted || expired)
      this.log.log(`gpu queue: ${admitted} admitted, ${expired} expired, ${live.length - admitted} waiting`);
    return { waiting: live.length - admitted, admitted, expired };
  }

  /** Writes each waiting launch's position and estimated start, and tells the student when it changed. */
  private async publishPositions(waiting: Waiting[], slots: Slot[], now: Date): Promise<void> {
    if (!waiting.length) return;
    const sliceOf = new Map<string, number>();
    for (const courseId of new Set(waiting.map((w) => w.courseId)))
      sliceOf.set(courseId, (await this.quota.limitsFor(courseId)).sliceMinutes * 60_000);
    const eta = new Map<string, Date | null>();
    // Launches with the same GPU policy compete for the same slots: estimate per policy.
    const byPolicy = new Map<string, Waiting[]>();
    for (const w of waiting) {
      const k = JSON.stringify(w.policy);
      byPolicy.set(k, [...(byPolicy.get(k) ?? []), w]);
    }
    for (const group of byPolicy.values()) {
      // Whoever takes a freed slot holds it for a slice: the slice of this group's course (its first launch's).
      const sliceMs = sliceOf.get(group[0].courseId)!;
      const suitable = slots.filter((s) => s.healthy && slotFits(s, group[0].policy));
      const freeIn = suitable.map((s) => (s.busyUntil ? s.busyUntil.getTime() - now.getTime() : s.held ? sliceMs : 0));
      const waits = estimateWaits(group.length, freeIn, sliceMs);
      // To the minute: an estimate that moves by seconds is no news, and is not written again.
      group.forEach((w, i) =>
        eta.set(
          w.sessionId,
          waits[i] === null ? null : new Date(Math.round((now.getTime() + waits[i]!) / 60_000) * 60_000),
        ),
      );
    }
    const ids = waiting.map((w) => w.sessionId);
    const positions = waiting.map((_, i) => i + 1);
    const etas = waiting.map((w) => eta.get(w.sessionId)?.toISOString() ?? null);
    // Only launches whose place or estimate changed are written and told (a queue that does not move costs one query).
    // TypeORM answers an UPDATE ... RETURNING with [rows, affected].
    const [changed] = (await this.db.query(
      `UPDATE lab_sessions s SET queue_position = x.pos, queue_eta = x.eta
         FROM unnest($1::uuid[], $2::int[], $3::timestamptz[]) AS x(id, pos, eta)
        WHERE s.id = x.id AND (s.queue_position IS DISTINCT FROM x.pos OR s.queue_eta IS DISTINCT FROM x.eta)
        RETURNING s.id`,
      [ids, positions, etas],
    )) as [Array<{ id: string }>, number];
    const moved = new Set(changed.map((r) => r.id));
    const tell = waiting.map((w, i) => ({ w, i })).filter(({ w }) => moved.has(w.sessionId));
    let next = 0;
    const worker = async () => {
      while (next < tell.length) {
        const { w, i } = tell[next++];
        const e = eta.get(w.sessionId);
        const wait = e
          ? `about ${fmtMinutes(Math.max(0, Math.round((e.getTime() - now.getTime()) / 60_000)))}`
          : 'unknown wait (no suitable GPU in the pool)';
        await this.progress.reportIfChanged(
          w.sessionId,
          5,
          `Waiting for a GPU: position ${i + 1} of ${waiting.length}, ${wait}. Your lab starts by itself when a GPU frees; stop it to leave the queue.`,
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, tell.length) }, worker));
  }
}
