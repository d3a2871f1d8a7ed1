import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import { Metrics } from '../../platform/metrics/metrics';
import type { BurnInStatus } from './burn-in-run.entity';

@Injectable()
export class BurnInMetrics {
  private readonly runs: Counter<'result'>;

  constructor(metrics: Metrics) {
    this.runs = new Counter({
      name: 'riglab_burn_in_runs_total',
      help: 'Burn-in runs that ended, by result (passed, failed, cancelled)',
      labelNames: ['result'],
      registers: [metrics.registry],
    });
  }

  ended(result: Exclude<BurnInStatus, 'running'>): void {
    this.runs.inc({ result });
  }
}
