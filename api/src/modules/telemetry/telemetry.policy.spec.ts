import type { RigSample } from '../../../../spawner/src/probes/sample';
import { bucketOf, rollUp, seriesOf } from './telemetry.policy';

const s = (at: string, temp: number | null, load1: number | null = 1): { at: Date; sample: RigSample } => ({
  at: new Date(at),
  sample: {
    at,
    load1,
    cpus: 4,
    memoryTotalMb: 8000,
    memoryAvailableMb: null,
    diskTotalMb: null,
    diskFreeMb: 1000,
    gpus: [
      {
        index: 0,
        id: 'GPU-a',
        model: 'RX 580',
        driver: 'amd',
        driverVersion: null,
        pciBusId: null,
        temperatureC: temp,
        fanPercent: null,
        fanRpm: 0,
        powerW: null,
        powerLimitW: null,
        memoryUsedMb: null,
        memoryTotalMb: null,
        utilizationPercent: null,
        smClockMhz: null,
        memoryClockMhz: null,
        throttleReasons: null,
        pcieGen: null,
        pcieGenMax: null,
        pcieWidth: null,
        pcieWidthMax: null,
        pcieReplays: null,
        xids: null,
      },
    ],
    sensors: [],
    notAvailable: [],
  },
});

describe('telemetry series and rollups', () => {
  it('names the readings that exist and leaves out the ones not available', () => {
    expect([...seriesOf(s('2026-12-03T10:00:00Z', 71).sample)]).toEqual([
      ['load1', 1],
      ['diskFreeMb', 1000],
      ['gpu.0.temperatureC', 71],
      ['gpu.0.fanRpm', 0],
    ]);
  });

  it('cuts five-minute buckets and aggregates each series within one', () => {
    expect(bucketOf(new Date('2026-12-03T10:04:59.999Z')).toISOString()).toBe('2026-12-03T10:00:00.000Z');
    const r = rollUp([
      s('2026-12-03T10:00:10Z', 70),
      s('2026-12-03T10:03:10Z', 90),
      s('2026-12-03T10:05:00Z', 50, null),
    ]).filter((x) => x.series === 'gpu.0.temperatureC' || x.series === 'load1');
    expect(r).toEqual([
      { bucket: new Date('2026-12-03T10:00:00Z'), series: 'load1', avg: 1, min: 1, max: 1, n: 2 },
      { bucket: new Date('2026-12-03T10:00:00Z'), series: 'gpu.0.temperatureC', avg: 80, min: 70, max: 90, n: 2 },
      { bucket: new Date('2026-12-03T10:05:00Z'), series: 'gpu.0.temperatureC', avg: 50, min: 50, max: 50, n: 1 },
    ]);
  });
});
