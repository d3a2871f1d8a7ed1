import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { RigSample } from '../../../../spawner/src/probes/sample';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { AuditService } from '../audit/audit.service';
import { Gpu, Rig } from '../rigs/rig.entity';
import { RigStateService } from '../rigs/rig-state.service';
import { cleanFor, evaluateSample, Finding } from './health-rules.policy';
import { ProbeAvailabilityService } from './probe-availability.service';

/**
 * Applies the health rules to each telemetry sample of a rig: quarantines faulty GPUs (no new labs on
 * them), drains a faulty rig, and lifts what a rule did once a whole clean window has passed.
 * What a person quarantined or drained is left for a person to lift.
 */
@Injectable()
export class RigHealthService {
  private readonly log = new Logger(RigHealthService.name);
  private readonly previous = new Map<string, RigSample>();

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @InjectDataSource() private readonly db: DataSource,
    private readonly states: RigStateService,
    private readonly audit: AuditService,
    private readonly availability: ProbeAvailabilityService,
  ) {}

  async ingest(
    rigId: string,
    sample: RigSample | null,
    probe: { engineReachable?: boolean; probeFailed?: boolean } = {},
  ): Promise<Finding[]> {
    const rigs = this.db.getRepository(Rig);
    const gpus = this.db.getRepository(Gpu);
    const rig = await rigs.findOneByOrFail({ id: rigId });
    const failures = probe.probeFailed ? rig.probeFailures + 1 : 0;
    if (failures !== rig.probeFailures) await rigs.update({ id: rigId }, { probeFailures: failures });
    const findings = evaluateSample(
      sample,
      {
        previous: this.previous.get(rigId) ?? null,
        probeFailuresInARow: failures,
        engineReachable: probe.engineReachable ?? true,
      },
      {
        slowdownC: this.config.rigs.gpuSlowdownC,
        diskMinFreePercent: this.config.rigs.diskMinFreePercent,
        probeFailuresToDrain: this.config.rigs.probeFailuresToDrain,
      },
    );
    if (sample) this.previous.set(rigId, sample);
    const now = new Date();
    const windowMs = this.config.rigs.healthCleanWindowMinutes * 60_000;

    for (const g of await gpus.find({ where: { rigId } })) {
      const bad = findings.filter((f) => f.kind === 'quarantine-gpu' && f.gpuIndex === g.index);
      if (bad.length) {
        const why = bad.map((f) => f.why).join('; ');
        await gpus.update(
          { id: g.id },
          { lastFaultAt: now, ...(g.healthy ? { healthy: false, healthReason: why, quarantinedBy: 'rule' } : {}) },
        );
        if (g.healthy) await this.record(rig, 'gpu.quarantine', { gpu: g.index, rules: bad.map((f) => f.rule), why });
      } else if (!g.healthy && g.quarantinedBy === 'rule' && cleanFor(g.lastFaultAt, now, windowMs)) {
        await gpus.update({ id: g.id }, { healthy: true, healthReason: '', quarantinedBy: null });
        await this.record(rig, 'gpu.recover', { gpu: g.index, why: 'clean for the whole window' });
      }
    }

    const rigFaults = findings.filter((f) => f.kind === 'drain-rig');
    if (rigFaults.length) {
      await rigs.update({ id: rigId }, { lastFaultAt: now });
      if (rig.state === 'active')
        await this.states.change(
          rig.name,
          { to: 'draining', reason: rigFaults.map((f) => f.why).join('; '), byRule: true },
          { name: `rule:${rigFaults.map((f) => f.rule).join(',')}` },
        );
    } else if (rig.state === 'draining' && rig.drainedByRule && cleanFor(rig.lastFaultAt, now, windowMs)) {
      await this.states.change(
        rig.name,
        { to: 'active', reason: 'healthy for the whole clean window' },
        { name: 'rule:recovery' },
      );
    }
    // Every probe outcome comes through here exactly once (telemetry-probe.service.ts), and after the
    // rules: a GPU quarantined or a rig drained by this very sample counts as down for this probe.
    await this.availability.record(rigId, !probe.probeFailed && (probe.engineReachable ?? true), now);
    return findings;
  }

  private async record(rig: Rig, action: string, detail: Record<string, unknown>): Promise<void> {
    await this.audit.record({ action, actor: 'rule', targetType: 'rig', targetId: rig.name, detail });
    this.log.warn({ msg: action, rig: rig.name, ...detail });
  }
}
