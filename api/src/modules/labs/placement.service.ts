import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Spawner } from '../../../../spawner/src';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { Rig } from '../rigs/rig.entity';
import { RigsService } from '../rigs/rigs.service';
import { LabSession } from './lab-session.entity';
import { LabSessionsRepository } from './lab-sessions.repository';
import { Placement, RigCandidate } from './labs.policy';
import { placeByReliability, reliabilityWanted } from './placement.policy';
import { SPAWNER } from './spawner.provider';
import { QuotaService } from '../quota/quota.service';

/** Thrown inside the placement transaction to roll it back, carrying the reason out. */
class NotPlaced extends Error {
  constructor(readonly outcome: Extract<Placement, { ok: false }>) {
    super(outcome.reason);
  }
}

type Outcome = { ok: true; session: LabSession; rig: Rig } | Extract<Placement, { ok: false }>;

/**
 * Turns a queued session into a placed one: gathers what each rig has free and hands it to the pure
 * placement policy, then reserves in one transaction. Rig rows are locked for the duration, so
 * concurrent placements see each other's reservations (no over-commit of CPU or memory), and the
 * unique index on gpu_slots.session_id backs the slot reservation.
 */
@Injectable()
export class PlacementService {
  private readonly log = new Logger(PlacementService.name);

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(SPAWNER) private readonly spawner: Spawner,
    private readonly rigs: RigsService,
    private readonly sessions: LabSessionsRepository,
    private readonly quota: QuotaService,
  ) {}

  async place(session: LabSession): Promise<Outcome> {
    const version = session.templateVersion!;
    // Engine calls happen before the transaction: no lock is held across the network.
    const active = await this.db.getRepository(Rig).find({ where: { state: 'active' } });
    const probes = new Map<string, { reachable: boolean; hasImage: boolean }>(
      await Promise.all(
        active.map(async (rig): Promise<[string, { reachable: boolean; hasImage: boolean }]> => {
          try {
            return [
              rig.id,
              { reachable: true, hasImage: await this.spawner.hasImage(this.rigs.targetOf(rig), version.image) },
            ];
          } catch {
            return [rig.id, { reachable: false, hasImage: false }];
          }
        }),
      ),
    );

    try {
      return await this.db.transaction(async (m) => {
        // queued → placing → starting happen in this one transaction: a failed attempt leaves the
        // session queued as it was (no write per retry), and a crash cannot strand it in `placing`.
        const claimed = await this.sessions.transition(
          session.id,
          'placing',
          'looking for a rig',
          {},
          ['queued', 'placing'],
          m,
        );
        if (!claimed)
          throw new NotPlaced({ ok: false, reason: 'the lab was stopped before it was placed', retryable: false });
        const rigs: Rig[] = await m
          .getRepository(Rig)
          .createQueryBuilder('r')
          .where("r.state = 'active'")
          .orderBy('r.id')
          .setLock('pessimistic_write')
          .getMany();
        const used: Array<{ rig_id: string; cpu: string; mem: string; n: string }> = await m.query(
          `SELECT s.rig_id, sum(v.cpu_millis) AS cpu, sum(v.memory_mb) AS mem, count(*) AS n
           FROM lab_sessions s JOIN lab_template_versions v ON v.id = s.template_version_id
          WHERE s.rig_id IS NOT NULL AND s.state IN ('placing', 'starting', 'ready', 'stopping')
          GROUP BY s.rig_id`,
        );
        const slots: Array<{
          id: string;
          rig_id: string;
          model: string;
          driver_kind: string;
          vram_mb: number;
          share: string;
          gpu_id: string;
          rate: string;
          healthy: boolean;
        }> = await m.query(
          `SELECT s.id, g.rig_id, g.model, g.driver_kind, g.vram_mb, s.share, g.id AS gpu_id, g.rate, g.healthy
           FROM gpu_slots s JOIN gpus g ON g.id = s.gpu_id
          WHERE s.session_id IS NULL ORDER BY g.index, s.slot_index`,
        );
        // Scores as the scoring job stored them last (RigScoringService): never computed per launch.
        const scored: Array<{ rig_id: string; score: number | null; gpu_scores: Record<string, number | null> }> =
          await m.query(`SELECT rig_id, score, gpu_scores FROM rig_reliability_scores`);
        const home =
          this.config.homes.storage === 'local'
            ? (
                (await m.query(
                  `SELECT rig_id FROM lab_sessions WHERE user_id = $1 AND course_id = $2 AND rig_id IS NOT NULL AND id <> $3 ORDER BY created_at DESC LIMIT 1`,
                  [session.userId, session.courseId, session.id],
                )) as Array<{ rig_id: string }>
              )[0]?.rig_id
            : undefined;

        const candidates: RigCandidate[] = rigs.map((rig) => {
          const u = used.find((x) => x.rig_id === rig.id);
          const probe = probes.get(rig.id) ?? { reachable: false, hasImage: false };
          return {
            id: rig.id,
            name: rig.name,
            // Only active rigs are read above; to the policy any other state means "takes no new labs".
            state: rig.state === 'active' ? 'active' : 'draining',
            reachable: probe.reachable,
            hasImage: probe.hasImage,
            cpuFreeMillis: rig.cpuMillis - Number(u?.cpu ?? 0),
            memoryFreeMb: rig.memoryMb - Number(u?.mem ?? 0),
            runningLabs: Number(u?.n ?? 0),
            holdsHome: rig.id === home,
            freeSlots: slots
              .filter((s) => s.rig_id === rig.id)
              .map((s) => ({
                slotId: s.id,
                gpuModel: s.model,
                driverKind: s.driver_kind,
                vramMb: s.vram_mb,
                share: Number(s.share),
                healthy: s.healthy,
              })),
          };
        });
        const wantsGpu = version.gpuPolicy.required && !session.cpuOnly;
        const gpu = wantsGpu ? version.gpuPolicy : { required: false };
        const wanted = reliabilityWanted({ gpu, maxAgeS: version.maxAgeS }, this.config.reliability.longLabHours);
        const gpuScores = new Map(scored.flatMap((r) => Object.entries(r.gpu_scores)));
        const decision = placeByReliability(
          candidates,
          { cpuMillis: version.cpuMillis, memoryMb: version.memoryMb, gpu },
          {
            rigs: Object.fromEntries(scored.map((r) => [r.rig_id, r.score])),
            slots: Object.fromEntries(slots.map((x) => [x.id, gpuScores.get(x.gpu_id)])),
          },
          wanted,
        );
        if (!decision.ok) throw new NotPlaced(decision);

        let gpuPatch = {};
        if (wantsGpu) {
          // TypeORM answers an UPDATE with [rows, affected].
          const [, reserved] = (await m.query(
            `UPDATE gpu_slots SET session_id = $1, reserved_at = now() WHERE id = $2 AND session_id IS NULL`,
            [session.id, decision.slotIds[0]],
          )) as [unknown, number];
          if (reserved !== 1)
            throw new NotPlaced({ ok: false, reason: 'the GPU was taken a moment ago', retryable: true });
          // What the slot costs is fixed now, so a later change of rates does not re-price a running lab.
          const slot = slots.find((x) => x.id === decision.slotIds[0])!;
          const rates = await this.quota.limitsFor(session.courseId, m);
          gpuPatch = {
            gpuId: slot.gpu_id,
            gpuModel: slot.model,
            gpuShare: slot.share,
            gpuRate: String(rates.gpuRates[slot.model] ?? Number(slot.rate)),
            // The slice counts from the moment the GPU is reserved: from then on nobody else can use it.
            sliceEndsAt: new Date(Date.now() + rates.sliceMinutes * 60_000),
            sliceWarnedS: null,
          };
        }
        const rig = rigs.find((r) => r.id === decision.rigId)!;
        const placed = await this.sessions.transition(
          session.id,
          'starting',
          `placed on rig ${rig.name}`,
          { rigId: rig.id, startedAt: new Date(), gpuQueuedAt: null, queuePosition: null, queueEta: null, ...gpuPatch },
          ['placing'],
          m,
        );
        if (!placed)
          throw new NotPlaced({ ok: false, reason: 'the lab was stopped while it was being placed', retryable: false });
        // What placement chose and why, for "why did my lab land there?".
        this.log.log({
          msg: 'lab placed',
          session: session.id,
          rig: rig.name,
          gpu: wantsGpu ? (slots.find((x) => x.id === decision.slotIds[0])?.gpu_id ?? null) : null,
          why: decision.why,
          reliabilityWanted: wanted,
          score: decision.score,
          usualRig: rigs.find((r) => r.id === decision.usualRigId)?.name,
          candidates: candidates.length,
        });
        return { ok: true as const, session: placed, rig };
      });
    } catch (err) {
      if (err instanceof NotPlaced) return err.outcome;
      throw err;
    }
  }
}
