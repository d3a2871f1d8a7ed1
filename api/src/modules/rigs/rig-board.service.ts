import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { RigSample } from '../../../../spawner/src/probes/sample';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { AuditEvent } from '../audit/audit-event.entity';
import type { RigReliability } from '../rig-health/reliability.policy';
import { ReliabilityService } from '../rig-health/reliability.service';
import { TelemetryService } from '../telemetry/telemetry.service';
import { RigAlert, rigAlerts } from './rig-board.policy';
import { Rig } from './rig.entity';
import { rigView } from './rigs.controller';
import { RigsService } from './rigs.service';

/** One rig as the board shows it: GET /api/rigs and GET /api/rigs/:name (issue 9 contract). */
export type RigBoardView = ReturnType<typeof rigView> & {
  load1: number | null;
  cpusSeen: number | null;
  memoryAvailableMb: number | null;
  memoryTotalMb: number | null;
  diskFreeMb: number | null;
  diskTotalMb: number | null;
  sampledAt: string | null;
  slots: { used: number; total: number };
  gpus: Array<{
    index: number;
    model: string;
    vramMb: number;
    driver: string;
    healthy: boolean;
    healthReason: string;
    slots: { used: number; total: number };
    temperatureC: number | null;
    pcieWidth: number | null;
    pcieWidthMax: number | null;
  }>;
  alerts: RigAlert[];
};

/**
 * The rigs board: each rig with its latest telemetry, slot use, GPU health and alerts at a glance.
 * Reads what the probes, rules and scores stored; changes nothing.
 */
@Injectable()
export class RigBoardService {
  private readonly log = new Logger(RigBoardService.name);

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @InjectDataSource() private readonly db: DataSource,
    private readonly rigs: RigsService,
    private readonly telemetry: TelemetryService,
    private readonly reliability: ReliabilityService,
  ) {}

  async board(): Promise<RigBoardView[]> {
    return this.views(await this.rigs.list());
  }

  async one(name: string): Promise<RigBoardView> {
    const [view] = await this.views([await this.rigs.byName(name)]);
    return view;
  }

  /** Audit events about the rig and its GPUs, newest first: who registered, moved, quarantined it. */
  async audit(name: string, limit = 100) {
    await this.rigs.byName(name);
    const rows = await this.db
      .getRepository(AuditEvent)
      .createQueryBuilder('a')
      .where(`(a.target_type = 'rig' AND a.target_id = :name) OR (a.target_type = 'gpu' AND a.target_id LIKE :gpus)`, {
        name,
        gpus: `${name}/%`,
      })
      .orderBy('a.id', 'DESC')
      .limit(limit)
      .getMany();
    return rows.map((a) => ({ at: a.at, actor: a.actor, action: a.action, target: a.targetId, detail: a.detail }));
  }

  private async views(rigs: Rig[]): Promise<RigBoardView[]> {
    if (!rigs.length) return [];
    const ids = rigs.map((r) => r.id);
    // Telemetry counts as latest for two probe intervals beyond the engine's own grace; older says nothing now.
    const maxAgeMs = Math.max(10 * 60_000, 3 * this.config.telemetry.probeIntervalS * 1000);
    const [samples, gpus, use, lastChanges, scores] = await Promise.all([
      this.telemetry.latest(maxAgeMs),
      this.rigs.gpus(),
      this.rigs.slotUse(),
      this.db.query(
        `SELECT DISTINCT ON (rig_id) rig_id, actor FROM rig_events WHERE rig_id = ANY($1) ORDER BY rig_id, at DESC, id DESC`,
        [ids],
      ) as Promise<Array<{ rig_id: string; actor: string }>>,
      this.scores(),
    ]);
    const sampleOf = new Map(samples.map((s) => [s.rig, s.sample] as [string, RigSample]));
    const changedBy = new Map(lastChanges.map((c) => [c.rig_id, c.actor]));
    const now = new Date();
    return rigs.map((rig) => {
      const sample = sampleOf.get(rig.name) ?? null;
      const own = gpus
        .filter((g) => g.rigId === rig.id)
        .map((g) => {
          const seen = sample?.gpus.find((s) => s.index === g.index);
          return {
            index: g.index,
            model: g.model,
            vramMb: g.vramMb,
            driver: g.driverKind,
            healthy: g.healthy,
            healthReason: g.healthReason,
            slots: use.get(g.id) ?? { used: 0, total: 0 },
            temperatureC: seen?.temperatureC ?? null,
            pcieWidth: seen?.pcieWidth ?? null,
            pcieWidthMax: seen?.pcieWidthMax ?? null,
          };
        });
      const score = scores.get(rig.name);
      const alerts = rigAlerts(
        {
          state: rig.state,
          stateReason: rig.stateReason,
          lastSeenAt: rig.lastSeenAt,
          probeFailures: rig.probeFailures,
          lastChangeBy: changedBy.get(rig.id) ?? null,
          diskFreeMb: sample?.diskFreeMb ?? null,
          diskTotalMb: sample?.diskTotalMb ?? null,
          gpus: own,
          reliability: score ? { score: score.score, floor: score.floor, belowFloor: score.belowFloor } : null,
        },
        {
          now,
          probeIntervalS: this.config.rigs.probeIntervalS,
          diskMinFreePercent: this.config.rigs.diskMinFreePercent,
          probeFailuresToDrain: this.config.rigs.probeFailuresToDrain,
        },
      );
      return {
        ...rigView(rig),
        load1: sample?.load1 ?? null,
        cpusSeen: sample?.cpus ?? null,
        memoryAvailableMb: sample?.memoryAvailableMb ?? null,
        memoryTotalMb: sample?.memoryTotalMb ?? null,
        diskFreeMb: sample?.diskFreeMb ?? null,
        diskTotalMb: sample?.diskTotalMb ?? null,
        sampledAt: sample?.at ?? null,
        slots: own.reduce((t, g) => ({ used: t.used + g.slots.used, total: t.total + g.slots.total }), {
          used: 0,
          total: 0,
        }),
        gpus: own,
        alerts,
      };
    });
  }

  /** The scoring job's last reliability scores by rig; the board still answers (without them) if they cannot be read. */
  private async scores(): Promise<Map<string, RigReliability>> {
    try {
      return new Map((await this.reliability.stored()).map((r) => [r.rig, r]));
    } catch (err) {
      this.log.warn({ msg: 'reliability scores unavailable for the board', error: (err as Error).message });
      return new Map();
    }
  }
}
