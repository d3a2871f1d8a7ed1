import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Counter, Gauge, Histogram } from 'prom-client';
import { DataSource } from 'typeorm';
import { Metrics } from '../../platform/metrics/metrics';

/** Quota, GPU time and fair-queue metrics. */
@Injectable()
export class QuotaMetrics {
  readonly gpuMinutes: Counter;
  readonly stops: Counter<'reason'>;
  readonly refusals: Counter<'code'>;
  readonly dispatchSeconds: Histogram;

  constructor(metrics: Metrics, @InjectDataSource() db: DataSource) {
    const registers = [metrics.registry];
    this.gpuMinutes = new Counter({
      name: 'riglab_gpu_minutes_charged_total',
      help: 'GPU-minutes debited to students (wall minutes × slot share × model rate)',
      registers,
    });
    this.stops = new Counter({
      name: 'riglab_quota_stops_total',
      help: 'Labs stopped by a quota rule (slice, gpu_budget, cpu_budget)',
      labelNames: ['reason'],
      registers,
    });
    this.refusals = new Counter({
      name: 'riglab_quota_refusals_total',
      help: 'Launches refused at admission, by reason code',
      labelNames: ['code'],
      registers,
    });
    this.dispatchSeconds = new Histogram({
      name: 'riglab_gpu_queue_dispatch_seconds',
      help: 'Time to order the GPU queue and admit from it once',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    new Gauge({
      name: 'riglab_gpu_queue_length',
      // Read from Postgres at scrape time: every portal process sees the same value.
      aggregator: 'first',
      help: 'Launches waiting in the fair GPU queue',
      registers,
      async collect() {
        const [row] = await db
          .query(`SELECT count(*)::int AS n FROM lab_sessions WHERE state = 'queued' AND gpu_queued_at IS NOT NULL`)
          .catch(() => [{ n: 0 }]);
        this.set(row.n);
      },
    });
  }
}
