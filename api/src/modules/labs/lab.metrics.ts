import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Gauge, Histogram } from 'prom-client';
import { DataSource } from 'typeorm';
import { Metrics } from '../../platform/metrics/metrics';

/** JupyterHub's metric names under riglab_, so its Grafana dashboards map over (DESIGN.md). */
@Injectable()
export class LabMetrics {
  readonly spawnDuration: Histogram<'status'>;

  constructor(metrics: Metrics, @InjectDataSource() db: DataSource) {
    const registers = [metrics.registry];
    this.spawnDuration = new Histogram({
      name: 'riglab_server_spawn_duration_seconds',
      help: 'Time from Launch to a lab whose Jupyter answers (status: success, failure, cancelled)',
      labelNames: ['status'],
      buckets: [0.5, 1, 2.5, 5, 10, 15, 30, 60, 120, 180, 300, 600],
      registers,
    });
    // Counted from Postgres at scrape time: right whichever portal process launched what.
    new Gauge({
      name: 'riglab_running_servers',
      // Read from Postgres at scrape time: every portal process sees the same value.
      aggregator: 'first',
      help: 'Labs whose Jupyter server is ready',
      registers,
      async collect() {
        const [row] = await db
          .query(`SELECT count(*)::int AS n FROM lab_sessions WHERE state = 'ready'`)
          .catch(() => [{ n: 0 }]);
        this.set(row.n);
      },
    });
    new Gauge({
      name: 'riglab_total_users',
      // Read from Postgres at scrape time: every portal process sees the same value.
      aggregator: 'first',
      help: 'Users known to the portal',
      registers,
      async collect() {
        const [row] = await db.query(`SELECT count(*)::int AS n FROM users`).catch(() => [{ n: 0 }]);
        this.set(row.n);
      },
    });
    new Gauge({
      name: 'riglab_active_users',
      // Read from Postgres at scrape time: every portal process sees the same value.
      aggregator: 'first',
      help: 'Users with a lab in any live state',
      registers,
      async collect() {
        const [row] = await db
          .query(
            `SELECT count(DISTINCT user_id)::int AS n FROM lab_sessions WHERE state IN ('queued','placing','starting','ready','stopping')`,
          )
          .catch(() => [{ n: 0 }]);
        this.set(row.n);
      },
    });
    new Gauge({
      name: 'riglab_rig_gpu_slots',
      // Read from Postgres at scrape time: every portal process sees the same value.
      aggregator: 'first',
      help: 'GPU slots per rig, used or free',
      labelNames: ['rig', 'state'],
      registers,
      async collect() {
        const rows: Array<{ rig: string; used: number; free: number }> = await db
          .query(
            `SELECT r.name AS rig, count(s.session_id)::int AS used, (count(s.id) - count(s.session_id))::int AS free
               FROM rigs r JOIN gpus g ON g.rig_id = r.id JOIN gpu_slots s ON s.gpu_id = g.id GROUP BY r.name`,
          )
          .catch(() => []);
        this.reset();
        for (const r of rows) {
          this.set({ rig: r.rig, state: 'used' }, r.used);
          this.set({ rig: r.rig, state: 'free' }, r.free);
        }
      },
    });
  }
}
