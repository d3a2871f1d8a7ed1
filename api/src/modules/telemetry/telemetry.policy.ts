import type { RigSample } from '../../../../spawner/src/probes/sample';

// Pure rules of telemetry storage: which numbers of a sample are series, and how buckets are cut.

/** The GPU readings kept as series (the rest of a sample stays in the raw row only). */
export const GPU_SERIES = [
  'temperatureC',
  'fanPercent',
  'fanRpm',
  'powerW',
  'utilizationPercent',
  'memoryUsedMb',
  'smClockMhz',
  'pcieWidth',
  'pcieReplays',
] as const;

/**
 * A sample as named numbers: `load1`, `memoryAvailableMb`, `diskFreeMb`, `gpu.<index>.<reading>`,
 * `sensor.<source>.<label>`. Readings that are not available (null) are simply absent.
 */
export function seriesOf(s: RigSample): Map<string, number> {
  const out = new Map<string, number>();
  const put = (k: string, v: number | null | undefined) => {
    if (typeof v === 'number' && Number.isFinite(v)) out.set(k, v);
  };
  put('load1', s.load1);
  put('memoryAvailableMb', s.memoryAvailableMb);
  put('diskFreeMb', s.diskFreeMb);
  for (const g of s.gpus) for (const r of GPU_SERIES) put(`gpu.${g.index}.${r}`, g[r]);
  for (const x of s.sensors) put(`sensor.${x.source}.${x.label}`.slice(0, 120), x.value);
  return out;
}

export const BUCKET_MS = 5 * 60_000;

/** The start of the five-minute bucket holding `at`. */
export function bucketOf(at: Date): Date {
  return new Date(Math.floor(at.getTime() / BUCKET_MS) * BUCKET_MS);
}

export interface Rollup {
  bucket: Date;
  series: string;
  avg: number;
  min: number;
  max: number;
  n: number;
}

/** Five-minute aggregates of samples (several rigs' samples must not be mixed: call per rig). */
export function rollUp(samples: Array<{ at: Date; sample: RigSample }>): Rollup[] {
  const acc = new Map<string, Rollup & { sum: number }>();
  for (const { at, sample } of samples) {
    const bucket = bucketOf(at);
    for (const [series, v] of seriesOf(sample)) {
      const k = `${bucket.getTime()}|${series}`;
      const a = acc.get(k);
      if (!a) acc.set(k, { bucket, series, avg: v, min: v, max: v, n: 1, sum: v });
      else {
        a.sum += v;
        a.n++;
        a.min = Math.min(a.min, v);
        a.max = Math.max(a.max, v);
      }
    }
  }
  return [...acc.values()].map(({ sum, ...r }) => ({ ...r, avg: sum / r.n }));
}
