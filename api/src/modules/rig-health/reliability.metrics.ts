import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { Metrics } from '../../platform/metrics/metrics';
import type { RigReliability } from './reliability.policy';

/**
 * `riglab_rig_reliability{rig}` and `riglab_gpu_reliability{rig,gpu}`: the scores the scoring job
 * stored last, read at scrape time so every portal process answers the same.
 */
@Injectable()
export class ReliabilityMetrics {
  constructor(metrics: Metrics, @InjectDataSource() db: DataSource) {
    // Both gauges read the same rows: one query per scrape (prom-client collects the gauges of a
    // scrape together, so sharing the query while it is in flight is enough, and nothing goes stale).
    let inFlight: Promise<Array<{ view: RigReliability }>> | null = null;
    const scores = () =>
      (inFlight ??= db
        .query(`SELECT view FROM rig_reliability_scores`)
        .catch(() => [])
        .finally(() => (inFlight = null)));
    const registers = [metrics.registry];
    new Gauge({
      name: 'riglab_rig_reliability',
      help: 'Reliability score of the rig over its window, 0-1 (below RIG_RELIABILITY_FLOOR it goes back to burn-in)',
      labelNames: ['rig'],
      aggregator: 'first',
      registers,
      async collect() {
        this.reset();
        for (const { view } of await scores()) this.set({ rig: view.rig }, view.score);
      },
    });
    new Gauge({
      name: 'riglab_gpu_reliability',
      help: 'Reliability score of the GPU over its rig window, 0-1',
      labelNames: ['rig', 'gpu'],
      aggregator: 'first',
      registers,
      async collect() {
        this.reset();
        for (const { view } of await scores())
          for (const g of view.gpus) this.set({ rig: view.rig, gpu: String(g.index) }, g.score);
      },
    });
  }
}
