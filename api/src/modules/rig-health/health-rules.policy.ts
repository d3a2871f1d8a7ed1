import type { GpuSample, RigSample } from '../../../../spawner/src/probes/sample';

/**
 * GPU slowdown temperatures (°C) by model: where the driver starts throttling hard. Source: the
 * "GPU Slowdown Temp" line of `nvidia-smi -q -d TEMPERATURE`, which varies by board and vBIOS; these
 * are typical reference-design values still to be checked on the pool's own cards (override per
 * model with RIG_GPU_SLOWDOWN_C). AMD boards report no such line and get the conservative default.
 */
export const SLOWDOWN_C: Record<string, number> = {
  'GTX 1060': 92,
  'GTX 1070': 94,
  'GTX 1080': 94,
  'GTX 1080 Ti': 94,
  'RTX 2060': 93,
  'RTX 2070': 93,
  'RTX 2080': 93,
  'RTX 3060': 93,
  'RTX 3070': 93,
  'RTX 3080': 93,
  'RTX 3090': 93,
};
/** For models not in the table: lower than any of them, so an unknown board is never cooked. */
export const DEFAULT_SLOWDOWN_C = 85;

/** Xids that mean an application fault, not a hardware one (the list NVIDIA's device plugin skips). */
export const IGNORED_XIDS = [13, 31, 43, 45, 68, 109];

export interface HealthSettings {
  slowdownC: Record<string, number>;
  diskMinFreePercent: number;
  probeFailuresToDrain: number;
}

export type Finding =
  | { kind: 'quarantine-gpu'; gpuIndex: number; rule: string; why: string }
  | { kind: 'drain-rig'; rule: string; why: string };

/** What the previous sample (and the probe history) tells the rules: replay counters only mean something when rising. */
export interface RuleContext {
  previous: RigSample | null;
  probeFailuresInARow: number;
  engineReachable: boolean;
}

export function slowdownOf(model: string | null, s: HealthSettings): number {
  if (!model) return DEFAULT_SLOWDOWN_C;
  return s.slowdownC[model] ?? SLOWDOWN_C[model] ?? DEFAULT_SLOWDOWN_C;
}

function gpuFindings(g: GpuSample, prev: GpuSample | undefined, s: HealthSettings): Finding[] {
  const out: Finding[] = [];
  const q = (rule: string, why: string) => out.push({ kind: 'quarantine-gpu', gpuIndex: g.index, rule, why });
  // The card's own threshold where its driver reports one; the per-model table otherwise.
  const limit = g.slowdownTempC ?? slowdownOf(g.model, s);
  if (g.temperatureC !== null && g.temperatureC >= limit)
    q('temperature', `GPU ${g.index} at ${g.temperatureC} °C, at or above its slowdown threshold of ${limit} °C`);
  const stalled = g.fanPercent === 0 || g.fanRpm === 0;
  // A fan at rest on a cool idle card is normal (zero-RPM mode); only a hot card with no fan is a fault.
  if (stalled && g.temperatureC !== null && g.temperatureC >= limit - 20)
    q('fan-stopped', `GPU ${g.index} fan reads 0 while the GPU is at ${g.temperatureC} °C`);
  const critical = (g.xids ?? []).filter((x) => !IGNORED_XIDS.includes(x));
  if (critical.length) q('xid', `GPU ${g.index} reported critical Xid error(s) ${[...new Set(critical)].join(', ')}`);
  if (g.pcieWidth !== null && g.pcieWidthMax !== null && g.pcieWidth < g.pcieWidthMax)
    q('pcie-width', `GPU ${g.index} PCIe link at x${g.pcieWidth}, below its x${g.pcieWidthMax} (riser or slot)`);
  if (g.pcieReplays !== null && prev?.pcieReplays != null && g.pcieReplays > prev.pcieReplays)
    q('pcie-replays', `GPU ${g.index} PCIe replay counter rose from ${prev.pcieReplays} to ${g.pcieReplays}`);
  return out;
}

/**
 * Everything wrong in one sample, given what came before. Missing readings (null) never fire a rule:
 * mining boards lack many sensors, and a missing sensor is not a fault.
 */
export function evaluateSample(sample: RigSample | null, ctx: RuleContext, s: HealthSettings): Finding[] {
  const out: Finding[] = [];
  if (!ctx.engineReachable)
    out.push({ kind: 'drain-rig', rule: 'engine-unreachable', why: "the rig's Docker engine does not answer" });
  if (ctx.probeFailuresInARow >= s.probeFailuresToDrain)
    out.push({
      kind: 'drain-rig',
      rule: 'probe-failing',
      why: `the telemetry probe failed ${ctx.probeFailuresInARow} times in a row`,
    });
  if (!sample) return out;
  if (sample.diskTotalMb && sample.diskFreeMb !== null) {
    const pct = (100 * sample.diskFreeMb) / sample.diskTotalMb;
    if (pct < s.diskMinFreePercent)
      out.push({
        kind: 'drain-rig',
        rule: 'disk-full',
        why: `the engine's disk is ${(100 - pct).toFixed(1)}% full (${sample.diskFreeMb} MiB free)`,
      });
  }
  for (const g of sample.gpus)
    out.push(
      ...gpuFindings(
        g,
        ctx.previous?.gpus.find((p) => p.id === g.id),
        s,
      ),
    );
  return out;
}

/** Whether something that was faulty may come back by itself: only after a whole clean window. */
export function cleanFor(lastFaultAt: Date | null, now: Date, windowMs: number): boolean {
  return !lastFaultAt || now.getTime() - lastFaultAt.getTime() >= windowMs;
}

export interface ReliabilityInput {
  /** The window looked at, in ms (e.g. 7 days). */
  windowMs: number;
  /** Milliseconds within the window the rig or GPU was out of service (down, drained by a rule, quarantined). */
  downMs: number;
  launches: number;
  failedLaunches: number;
  faults: number;
}

export interface Reliability {
  availability: number;
  launchSuccess: number;
  faultsPerDay: number;
  /** 0-1: availability times launch success, less 5% per daily fault (never below 0). */
  score: number;
}

/** A rig's or GPU's reliability over a rolling window. */
export function reliability(i: ReliabilityInput): Reliability {
  const availability = i.windowMs > 0 ? Math.max(0, Math.min(1, 1 - i.downMs / i.windowMs)) : 1;
  const launchSuccess = i.launches > 0 ? Math.max(0, 1 - i.failedLaunches / i.launches) : 1;
  const faultsPerDay = i.windowMs > 0 ? i.faults / (i.windowMs / 86_400_000) : 0;
  const score = Math.max(0, availability * launchSuccess - 0.05 * faultsPerDay);
  return { availability, launchSuccess, faultsPerDay, score: Math.round(score * 1000) / 1000 };
}

/** Below the floor a rig leaves the pool until it passes burn-in again. */
export const RELIABILITY_FLOOR = 0.9;
export const belowFloor = (r: Reliability, floor = RELIABILITY_FLOOR): boolean => r.score < floor;
