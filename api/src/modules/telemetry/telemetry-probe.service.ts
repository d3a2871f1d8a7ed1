import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Counter } from 'prom-client';
import { DataSource, Not } from 'typeorm';
import { ProbeError, RigProber } from '../../../../spawner/src';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { withTryLock } from '../../platform/db/try-lock';
import { Metrics } from '../../platform/metrics/metrics';
import { JobHandler } from '../../platform/queue/job-handler.decorator';
import { JobName } from '../../platform/queue/jobs';
import { Rig } from '../rigs/rig.entity';
import { RigHealthService } from '../rig-health/rig-health.service';
import { RigsService } from '../rigs/rigs.service';
import { TelemetryService } from './telemetry.service';

/**
 * Every TELEMETRY_PROBE_INTERVAL_S, runs the read-only probe container on each rig that is not
 * retired (TELEMETRY_PROBE_CONCURRENCY at a time), stores what it reports and hands it to the health rules
 * (RigHealthService: quarantine a failing GPU, drain a failing rig). A probe that fails is counted
 * (riglab_rig_probe_failures_total), logged and reported to the rules, which decide what repeated
 * failures mean.
 */
@Injectable()
export class TelemetryProbeService {
  private readonly log = new Logger(TelemetryProbeService.name);
  private readonly prober = new RigProber();
  private readonly failures: Counter<'rig' | 'code'>;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @InjectDataSource() private readonly db: DataSource,
    private readonly rigs: RigsService,
    private readonly telemetry: TelemetryService,
    private readonly health: RigHealthService,
    metrics: Metrics,
  ) {
    this.failures = new Counter({
      name: 'riglab_rig_probe_failures_total',
      help: 'Telemetry probes of a rig that failed, by reason',
      labelNames: ['rig', 'code'],
      registers: [metrics.registry],
    });
  }

  @JobHandler(JobName.ProbeTelemetry)
  probeAll(): Promise<{ probed: number; failed: number } | 'busy'> {
    return withTryLock(this.db, 'riglab.telemetry-probe', async () => {
      const rigs = await this.db.getRepository(Rig).find({ where: { state: Not('retired') } });
      let probed = 0;
      let failed = 0;
      let next = 0;
      const worker = async () => {
        while (next < rigs.length) {
          const rig = rigs[next++];
          try {
            const previous = await this.telemetry.lastKernelLog(rig.id);
            const { sample } = await this.prober.probe(this.rigs.targetOf(rig), previous);
            await this.telemetry.store(rig.id, sample);
            // Health rules read every sample: quarantine a failing GPU, drain a failing rig.
            await this.health.ingest(rig.id, sample, { engineReachable: true });
            probed++;
          } catch (err) {
            failed++;
            const code = err instanceof ProbeError ? err.code : 'probe_failed';
            this.failures.inc({ rig: rig.name, code });
            this.log.warn(`telemetry probe of rig ${rig.name} failed: ${(err as Error).message}`);
            await this.health
              // A failed probe counts towards "probe failing N times in a row"; one unanswered probe
              // (a rig rebooting, a portal starting) drains nothing.
              .ingest(rig.id, null, { probeFailed: true })
              .catch((e: Error) => this.log.warn(`health rules for rig ${rig.name}: ${e.message}`));
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.config.telemetry.probeConcurrency, rigs.length) }, worker));
      return { probed, failed };
    });
  }
}
