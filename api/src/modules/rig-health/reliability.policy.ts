import { RigState } from '../rigs/rig.entity';
import { Reliability, reliability } from './health-rules.policy';

// Pure rules around the reliability score: the window, what is measured, who is judged, and why a rig
// leaves the pool. The score itself is health-rules.policy.ts's reliability().

const DAY_MS = 86_400_000;

/** What GET /api/rigs/reliability answers per GPU (issue 9 contract). */
export interface GpuReliability {
  index: number;
  model: string;
  score: number;
  availability: number;
  launches: number;
  failedLaunches: number;
  faults: number;
  faultsPerDay: number;
}

/** What GET /api/rigs/reliability answers per rig (issue 9 contract; `judged` added). */
export interface RigReliability {
  rig: string;
  score: number;
  availability: number;
  launchSuccess: number;
  launches: number;
  failedLaunches: number;
  faults: number;
  faultsPerDay: number;
  /** ISO time the window starts: the later of now − RIG_RELIABILITY_WINDOW_DAYS and the last passed burn-in. */
  windowStart: string;
  /** Judged and below the floor (a rig with too little history never is). */
  belowFloor: boolean;
  floor: number;
  /** Whether the rig has enough history in its window (RIG_RELIABILITY_MIN_HOURS) to be held to the floor. */
  judged: boolean;
  gpus: GpuReliability[];
}

/** What was counted for a rig or GPU inside its window. */
export interface Measured {
  probesUp: number;
  probesDown: number;
  launches: number;
  failedLaunches: number;
  faults: number;
}

/**
 * Where a rig's window starts: a passed burn-in wipes the slate (the rig was tested again since what
 * went wrong before), otherwise the rolling window.
 */
export function windowStartOf(now: Date, windowDays: number, lastBurnInPass: Date | null): Date {
  const rolling = new Date(now.getTime() - windowDays * DAY_MS);
  return lastBurnInPass && lastBurnInPass > rolling ? lastBurnInPass : rolling;
}

/**
 * The score over a window. Availability is the share of probes that found the rig (or GPU) up: each
 * probe stands for the same slice of time, and hours nobody probed (the portal down) count neither way.
 * Faults are rated per day over at least a day, so a single fault an hour after burn-in is not read
 * as "24 faults a day".
 */
export function scoreOf(m: Measured, windowStart: Date, now: Date): Reliability {
  const windowMs = Math.max(now.getTime() - windowStart.getTime(), DAY_MS);
  const probes = m.probesUp + m.probesDown;
  const r = reliability({
    windowMs,
    downMs: probes > 0 ? (m.probesDown / probes) * windowMs : 0,
    launches: m.launches,
    failedLaunches: m.failedLaunches,
    faults: m.faults,
  });
  return {
    availability: round(r.availability, 4),
    launchSuccess: round(r.launchSuccess, 4),
    faultsPerDay: round(r.faultsPerDay, 3),
    score: r.score,
  };
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

/** Enough history to judge: at least `minHours` complete hours with probes inside the window. */
export const judged = (completeHours: number, minHours: number): boolean => completeHours >= minHours;

export type FloorVerdict = { action: 'keep' } | { action: 'to-burn-in'; reason: string };

/**
 * Whether a rig leaves the pool for burn-in: only an active, judged rig below the floor. The reason
 * names the score, the floor, the window and what pulled the score down most, so the admin reading
 * the rig's history knows what to look at.
 */
export function floorVerdict(
  r: Pick<
    RigReliability,
    'score' | 'availability' | 'launchSuccess' | 'launches' | 'failedLaunches' | 'faults' | 'faultsPerDay' | 'floor'
  >,
  rig: { state: RigState; judged: boolean; windowStart: Date },
  now: Date,
): FloorVerdict {
  if (rig.state !== 'active' || !rig.judged || r.score >= r.floor) return { action: 'keep' };
  const hours = (now.getTime() - rig.windowStart.getTime()) / 3_600_000;
  const span = hours < 48 ? `${Math.round(hours)} h` : `${(hours / 24).toFixed(1)} days`;
  return {
    action: 'to-burn-in',
    reason:
      `reliability ${r.score.toFixed(3)} is below the floor ${r.floor.toFixed(2)} over the last ${span}, ` +
      `mostly from ${mainCause(r)}: up ${(100 * r.availability).toFixed(1)}% of probes, ` +
      `${r.failedLaunches} of ${r.launches} launches failed, ${r.faults} health-rule fault(s) (${r.faultsPerDay.toFixed(2)} a day)`,
  };
}

/** The part of the score lost to each cause, in the order reliability() applies them. */
function mainCause(r: Pick<RigReliability, 'availability' | 'launchSuccess' | 'faultsPerDay'>): string {
  const losses: Array<[string, number]> = [
    ['failed probes (the rig was down)', 1 - r.availability],
    ['failed launches', r.availability * (1 - r.launchSuccess)],
    ['health-rule faults', Math.min(r.availability * r.launchSuccess, 0.05 * r.faultsPerDay)],
  ];
  return losses.reduce((a, b) => (b[1] > a[1] ? b : a))[0];
}

/**
 * True when so much of the pool falls below the floor in one round that the cause is more likely the
 * portal's side (its network, its engine access, a bad release) than the rigs: then no rig is moved
 * and an admin is told. A small pool (under `minPool` judged active rigs) is always judged one by one.
 */
export function looksLikePortalFault(
  rigs: Array<{ state: RigState; judged: boolean; belowFloor: boolean }>,
  minPool = 4,
  share = 0.5,
): boolean {
  const judged = rigs.filter((r) => r.state === 'active' && r.judged);
  if (judged.length < minPool) return false;
  return judged.filter((r) => r.belowFloor).length > judged.length * share;
}
