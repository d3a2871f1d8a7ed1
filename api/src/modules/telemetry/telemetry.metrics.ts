import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { Metrics } from '../../platform/metrics/metrics';
import type { RigSample } from '../../../../spawner/src/probes/sample';
import { TelemetryService } from './telemetry.service';

type GpuReading = 'temperatureC' | 'fanPercent' | 'powerW' | 'pcieReplays' | 'utilizationPercent';

/**
 * The rigs' latest telemetry on /metrics, named as DCGM and node-exporter name them (DESIGN.md),
 * under riglab_. Read from Postgres at scrape time, so every portal process answers the same.
 */
@Injectable()
export class TelemetryMetrics {
  constructor(metrics: Metrics, telemetry: TelemetryService) {
    const registers = [metrics.registry];
    // Eight gauges read the same rows: one query per scrape (shared while in flight, kept a second).
    let cached: { at: number; rows: Promise<Array<{ rig: string; sample: RigSample }>> } | null = null;
    const latest = () => {
      if (!cached || Date.now() - cached.at > 1_000)
        cached = { at: Date.now(), rows: telemetry.latest().catch(() => []) };
      return cached.rows;
    };
    const gpuGauge = (name: string, help: string, reading: GpuReading) =>
      new Gauge({
        name,
        help,
        labelNames: ['rig', 'gpu', 'model'],
        aggregator: 'first',
        registers,
        async collect() {
          this.reset();
          for (const { rig, sample } of await latest())
            for (const g of sample.gpus) {
              const v = g[reading];
              if (typeof v === 'number') this.set({ rig, gpu: String(g.index), model: g.model ?? '' }, v);
            }
        },
      });
    gpuGauge('riglab_gpu_temp', 'GPU temperature (°C)', 'temperatureC');
    gpuGauge('riglab_fan_speed', 'GPU fan speed (% of maximum)', 'fanPercent');
    gpuGauge('riglab_power_usage', 'GPU power draw (W)', 'powerW');
    gpuGauge('riglab_pcie_replay_counter', 'PCIe replay counter of the GPU link', 'pcieReplays');
    gpuGauge('riglab_gpu_utilization', 'GPU utilisation (%)', 'utilizationPercent');
    new Gauge({
      name: 'riglab_xid_errors',
      help: 'Xid errors the GPU reported since the previous probe',
      labelNames: ['rig', 'gpu', 'model'],
      aggregator: 'first',
      registers,
      async collect() {
        this.reset();
        for (const { rig, sample } of await latest())
          for (const g of sample.gpus)
            if (g.xids) this.set({ rig, gpu: String(g.index), model: g.model ?? '' }, g.xids.length);
      },
    });
    const sensorGauge = (name: string, help: string, kind: 'temperature' | 'fan') =>
      new Gauge({
        name,
        help,
        labelNames: ['rig', 'chip', 'sensor'],
        aggregator: 'first',
        registers,
        async collect() {
          this.reset();
          for (const { rig, sample } of await latest())
            for (const s of sample.sensors)
              if (s.kind === kind && typeof s.value === 'number')
                this.set({ rig, chip: s.source, sensor: s.label }, s.value);
        },
      });
    sensorGauge('riglab_hwmon_temp_celsius', 'Board sensor temperature (°C), from hwmon or IPMI', 'temperature');
    sensorGauge('riglab_hwmon_fan_rpm', 'Board fan speed (rpm), from hwmon or IPMI', 'fan');
  }
}
