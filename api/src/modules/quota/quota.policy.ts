// Pure rules of course quotas, GPU admission, GPU slices and the fair queue: no Nest, no database.
// Unit-tested in quota.policy.spec.ts. Amounts are in charged GPU-minutes (wall minutes × slot share ×
// the GPU model's rate) and CPU core-minutes; `null` limits mean "no limit".

export interface QuotaLimits {
  /** Labs a student may have live at once in the course (queued ones count). */
  maxConcurrentLabs: number | null;
  /** CPU core-hours per student per week. */
  cpuHoursPerWeek: number | null;
  /** Charged GPU-minutes per student per week. */
  gpuMinutesPerWeek: number | null;
  /** Charged GPU-minutes the whole course may use per week. */
  coursePoolGpuMinutesPerWeek: number | null;
  /** Longest a GPU lab holds its slot at once. */
  sliceMinutes: number;
}

/** What admins set (the ceiling) adds the GPU rates; instructors may only tighten the rest. */
export interface QuotaCeiling extends QuotaLimits {
  /** GPU-minutes charged per minute of use, by GPU model (missing: the GPU's own rate). */
  gpuRates: Record<string, number>;
}

export type QuotaTightening = Partial<QuotaLimits>;

export const LIMIT_KEYS = [
  'maxConcurrentLabs',
  'cpuHoursPerWeek',
  'gpuMinutesPerWeek',
  'coursePoolGpuMinutesPerWeek',
  'sliceMinutes',
] as const satisfies ReadonlyArray<keyof QuotaLimits>;

const BOUNDS: Record<(typeof LIMIT_KEYS)[number], { min: number; max: number; nullable: boolean; unit: string }> = {
  maxConcurrentLabs: { min: 0, max: 100, nullable: true, unit: 'labs' },
  cpuHoursPerWeek: { min: 0, max: 10_000, nullable: true, unit: 'CPU-hours' },
  gpuMinutesPerWeek: { min: 0, max: 1_000_000, nullable: true, unit: 'GPU-minutes' },
  coursePoolGpuMinutesPerWeek: { min: 0, max: 100_000_000, nullable: true, unit: 'GPU-minutes' },
  sliceMinutes: { min: 0.05, max: 24 * 60, nullable: false, unit: 'minutes' },
};

/** Smaller of two limits, where null means unlimited. */
function tighter(a: number | null, b: number | null | undefined): number | null {
  if (b === undefined || b === null) return a;
  if (a === null) return b;
  return Math.min(a, b);
}

/** The limits in force: the admins' ceiling, tightened by whatever the instructors set. */
export function effectiveLimits(ceiling: QuotaCeiling, tightening: QuotaTightening): QuotaCeiling {
  return {
    maxConcurrentLabs: tighter(ceiling.maxConcurrentLabs, tightening.maxConcurrentLabs),
    cpuHoursPerWeek: tighter(ceiling.cpuHoursPerWeek, tightening.cpuHoursPerWeek),
    gpuMinutesPerWeek: tighter(ceiling.gpuMinutesPerWeek, tightening.gpuMinutesPerWeek),
    coursePoolGpuMinutesPerWeek: tighter(ceiling.coursePoolGpuMinutesPerWeek, tightening.coursePoolGpuMinutesPerWeek),
    sliceMinutes: tighter(ceiling.sliceMinutes, tightening.sliceMinutes) ?? ceiling.sliceMinutes,
    gpuRates: { ...ceiling.gpuRates },
  };
}

export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

function checkLimit(key: (typeof LIMIT_KEYS)[number], v: unknown, allowNull: boolean): string | null {
  const b = BOUNDS[key];
  if (v === null) return allowNull && b.nullable ? null : `${key} must be a number (${b.unit})`;
  if (typeof v !== 'number' || !Number.isFinite(v)) return `${key} must be a number of ${b.unit} or null for no limit`;
  if (v < b.min || v > b.max) return `${key} must be between ${b.min} and ${b.max} ${b.unit}`;
  if (key === 'maxConcurrentLabs' && !Number.isInteger(v)) return 'maxConcurrentLabs must be a whole number';
  return null;
}

/** An admin's patch of the ceiling: known keys, sane numbers, rates by model. */
export function checkCeilingPatch(patch: unknown): Checked<Partial<QuotaCeiling>> {
  if (!isObject(patch)) return { ok: false, reason: 'the quota must be an object' };
  const known: string[] = [...LIMIT_KEYS, 'gpuRates'];
  const unknown = Object.keys(patch).filter((k) => !known.includes(k));
  if (unknown.length)
    return { ok: false, reason: `unknown quota field ${unknown.join(', ')}; known: ${known.join(', ')}` };
  for (const key of LIMIT_KEYS) {
    if (!(key in patch)) continue;
    const why = checkLimit(key, patch[key], true);
    if (why) return { ok: false, reason: why };
  }
  if ('gpuRates' in patch) {
    const rates = patch.gpuRates;
    if (!isObject(rates))
      return { ok: false, reason: 'gpuRates must map GPU model names to rates, e.g. {"RTX 3060": 2}' };
    for (const [model, rate] of Object.entries(rates)) {
      if (!model.trim() || model.length > 100)
        return { ok: false, reason: `gpuRates: '${model}' is not a GPU model name` };
      if (typeof rate !== 'number' || !(rate > 0) || rate > 100)
        return { ok: false, reason: `gpuRates['${model}'] must be a number above 0 and at most 100` };
    }
  }
  return { ok: true, value: patch as Partial<QuotaCeiling> };
}

/**
 * An instructor's tightening: the limits only (rates are campus IT's), each no looser than the
 * ceiling. null clears the instructor's own value (the ceiling applies again).
 */
export function checkTightening(patch: unknown, ceiling: QuotaCeiling): Checked<QuotaTightening> {
  if (!isObject(patch)) return { ok: false, reason: 'the quota must be an object' };
  if ('gpuRates' in patch) return { ok: false, reason: 'GPU rates are set by campus IT, not by instructors' };
  const unknown = Object.keys(patch).filter((k) => !(LIMIT_KEYS as readonly string[]).includes(k));
  if (unknown.length)
    return { ok: false, reason: `unknown quota field ${unknown.join(', ')}; known: ${LIMIT_KEYS.join(', ')}` };
  const out: QuotaTightening = {};
  for (const key of LIMIT_KEYS) {
    if (!(key in patch)) continue;
    const v = patch[key];
    if (v === null) {
      out[key] = undefined;
      continue;
    }
    const why = checkLimit(key, v, false);
    if (why) return { ok: false, reason: why };
    const max = ceiling[key];
    if (max !== null && (v as number) > max)
      return {
        ok: false,
        reason: `${key} may only be tightened: campus IT allows at most ${max} ${BOUNDS[key].unit} for this course`,
      };
    out[key] = v as number;
  }
  return { ok: true, value: out };
}

/** The week a budget belongs to: Monday 00:00 UTC to the next Monday. */
export function weekOf(now: Date): { start: Date; end: Date; label: string } {
  const day = (now.getUTCDay() + 6) % 7; // Monday = 0
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - day));
  const end = new Date(start.getTime() + 7 * 86_400_000);
  return { start, end, label: start.toISOString().slice(0, 10) };
}

/** Where a student stands in a course this week, as the ledger says. */
export interface BudgetState {
  /** Balance of GPU-minutes this week (refills + debits + credits + adjustments). */
  gpuLeft: number;
  /** Outstanding GPU-minutes promised to the student's other live GPU labs (reserved, not yet debited). */
  gpuCommitted: number;
  cpuMinutesLeft: number;
  /** Course pool left this week, or null without a pool. */
  poolLeft: number | null;
  /** Outstanding reservations of the whole course against its pool. */
  poolCommitted: number;
  /** Labs the student has live in the course right now (queued ones included). */
  liveLabs: number;
}

export type AdmissionRefusalCode =
  'too_many_labs' | 'gpu_budget' | 'gpu_budget_committed' | 'cpu_budget' | 'course_pool' | 'no_gpu_quota';

export type Admission =
  | { ok: true; reserveGpuMinutes: number }
  | { ok: false; code: AdmissionRefusalCode; reason: string; refillsAt: Date | null };

/** Below this many charged GPU-minutes a GPU lab is not worth starting (QUOTA_MIN_START_GPU_MINUTES). */
export const MIN_GPU_START_MINUTES = 1;

/**
 * May this launch start? Counts live labs, CPU time and, for GPU labs, the GPU budget left after what
 * the student's other live GPU labs were promised. An admitted GPU lab is promised (reserves) up to
 * one slice of GPU time, so concurrent launches cannot both spend the same minutes. The reason says
 * what ran out and when it refills, in the student's terms.
 */
export function admit(
  limits: QuotaLimits,
  state: BudgetState,
  wantsGpu: boolean,
  refillsAt: Date,
  minStart = MIN_GPU_START_MINUTES,
): Admission {
  const when = utcText(refillsAt);
  if (limits.maxConcurrentLabs !== null && state.liveLabs >= limits.maxConcurrentLabs)
    return {
      ok: false,
      code: 'too_many_labs',
      reason: `you already have ${state.liveLabs} lab${state.liveLabs === 1 ? '' : 's'} running in this course (the limit is ${limits.maxConcurrentLabs}); stop one first`,
      refillsAt: null,
    };
  if (limits.cpuHoursPerWeek !== null && state.cpuMinutesLeft <= 0)
    return {
      ok: false,
      code: 'cpu_budget',
      reason: `your ${limits.cpuHoursPerWeek} CPU-hours for this week are used up; they refill on ${when}`,
      refillsAt,
    };
  if (!wantsGpu) return { ok: true, reserveGpuMinutes: 0 };
  if (limits.gpuMinutesPerWeek === 0)
    return { ok: false, code: 'no_gpu_quota', reason: 'this course has no GPU time for students', refillsAt: null };
  const slice = limits.sliceMinutes;
  let available = Infinity;
  if (limits.gpuMinutesPerWeek !== null) {
    if (state.gpuLeft < minStart)
      return {
        ok: false,
        code: 'gpu_budget',
        reason: `your ${limits.gpuMinutesPerWeek} GPU-minutes for this week are used up (${fmtMinutes(Math.max(0, state.gpuLeft))} left); they refill on ${when}`,
        refillsAt,
      };
    available = state.gpuLeft - state.gpuCommitted;
    if (available < minStart)
      return {
        ok: false,
        code: 'gpu_budget_committed',
        reason: `your GPU-minutes left this week (${fmtMinutes(state.gpuLeft)}) are held by your other GPU lab; stop it to start this one, or wait until ${when}`,
        refillsAt,
      };
  }
  if (state.poolLeft !== null && state.poolLeft - state.poolCommitted < minStart)
    return {
      ok: false,
      code: 'course_pool',
      reason: `the course's GPU time for this week is used up; it refills on ${when}`,
      refillsAt,
    };
  const poolAvailable = state.poolLeft === null ? Infinity : state.poolLeft - state.poolCommitted;
  return { ok: true, reserveGpuMinutes: round4(Math.min(slice, available, poolAvailable)) };
}

/** `2026-12-07 00:00 UTC`: how refill times are told to people. */
export function utcText(d: Date): string {
  return `${d.toISOString().replace('T', ' ').slice(0, 16)} UTC`;
}

export function fmtMinutes(m: number): string {
  if (m >= 120) return `${(m / 60).toFixed(1)} h`;
  if (m < 1) return `${Math.round(m * 60)} s`;
  return `${Math.round(m * 10) / 10} min`;
}

export const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

/** GPU-minutes charged for `wallMs` of holding a slot of `share` of a GPU whose rate is `rate`. */
export function charge(wallMs: number, share: number, rate: number): number {
  return round4((wallMs / 60_000) * share * rate);
}

/** GPU usage decayed with a half-life (Slurm's fair-share idea): old usage counts less. */
export function decayed(amount: number, ageMs: number, halfLifeMs: number): number {
  if (halfLifeMs <= 0) return amount;
  return amount * Math.pow(0.5, Math.max(0, ageMs) / halfLifeMs);
}

export interface QueuedLaunch {
  sessionId: string;
  userId: string;
  queuedAt: Date;
  /** The student's decayed recent GPU usage. */
  usage: number;
}

/** Fair order: least decayed GPU usage first, then first come, first served (then by id, to be total). */
export function orderQueue<T extends QueuedLaunch>(queue: T[]): T[] {
  return [...queue].sort(
    (a, b) =>
      a.usage - b.usage ||
      a.queuedAt.getTime() - b.queuedAt.getTime() ||
      (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0),
  );
}

/**
 * Estimated waits for positions 0..n-1 of a queue served by slots that free after `freeInMs` each
 * (0 for a free slot): each slot, once free, takes the next student for one slice.
 */
export function estimateWaits(n: number, freeInMs: number[], sliceMs: number): Array<number | null> {
  if (freeInMs.length === 0) return Array.from({ length: n }, () => null);
  const slots = [...freeInMs].map((x) => Math.max(0, x)).sort((a, b) => a - b);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    // The earliest slot to free serves this position, then comes back one slice later.
    const t = slots.shift()!;
    out.push(t);
    const back = t + sliceMs;
    let j = slots.findIndex((x) => x > back);
    if (j < 0) j = slots.length;
    slots.splice(j, 0, back);
  }
  return out;
}

export type SliceStep = { action: 'none' } | { action: 'warn'; aheadS: number; leftS: number } | { action: 'end' };

/**
 * What a GPU slice needs now: warnings at each of `warnAheadS` (e.g. 600 and 120 s) before its end,
 * once each and never for a threshold already passed by a later one, then its end.
 * `warnedAheadS` is the smallest threshold already warned about (null: none yet).
 */
export function sliceStep(now: Date, endsAt: Date, warnAheadS: number[], warnedAheadS: number | null): SliceStep {
  const leftS = (endsAt.getTime() - now.getTime()) / 1000;
  if (leftS <= 0) return { action: 'end' };
  const due = [...warnAheadS]
    .sort((a, b) => a - b)
    .find((a) => leftS <= a && (warnedAheadS === null || a < warnedAheadS));
  return due === undefined ? { action: 'none' } : { action: 'warn', aheadS: due, leftS };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
