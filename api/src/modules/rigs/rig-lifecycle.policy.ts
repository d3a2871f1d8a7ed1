import type { RigState } from './rig.entity';

/**
 * Which state changes a person (or a rule) may ask for, from each state. `maintenance` and `retired`
 * asked of a rig that still runs labs go through `draining` first: the rig gets there by itself
 * once the labs are gone. Leaving maintenance means passing burn-in again before taking work.
 */
const ALLOWED: Record<RigState, readonly RigState[]> = {
  registered: ['burn-in', 'active', 'retired'],
  'burn-in': ['active', 'maintenance', 'retired'],
  active: ['draining', 'maintenance', 'retired'],
  draining: ['active', 'maintenance', 'retired', 'burn-in'],
  maintenance: ['burn-in', 'retired'],
  retired: [],
};

/**
 * Moves only a rule may ask for: the reliability floor sends an active rig back to burn-in (through
 * draining while labs run), where a person would first choose drain or maintenance themselves.
 */
const RULE_ONLY: Partial<Record<RigState, readonly RigState[]>> = { active: ['burn-in'] };

export type TransitionPlan = { ok: true; state: RigState; drainTarget: RigState | null } | { ok: false; why: string };

/**
 * What asking for `to` does to a rig in `from` that runs `liveLabs` labs: the state it takes now and
 * where a drain leads. Refusals say why in words an admin can act on.
 */
export function planRigTransition(
  from: RigState,
  to: RigState,
  liveLabs: number,
  opts: { byRule?: boolean } = {},
): TransitionPlan {
  if (from === to) return { ok: false, why: `the rig is ${from} already` };
  if (from === 'retired') return { ok: false, why: 'a retired rig stays retired (its history is kept)' };
  if (!ALLOWED[from].includes(to) && !(opts.byRule && RULE_ONLY[from]?.includes(to))) {
    const hint = from === 'maintenance' && to === 'active' ? ': it must pass burn-in first' : '';
    return {
      ok: false,
      why: `a rig cannot go from ${from} to ${to}${hint} (from ${from} it can go to ${ALLOWED[from].join(', ')})`,
    };
  }
  if (to === 'draining') return { ok: true, state: 'draining', drainTarget: null };
  // Burn-in stresses the whole rig: labs still running there finish first, like for maintenance.
  if ((to === 'maintenance' || to === 'retired' || to === 'burn-in') && liveLabs > 0)
    return { ok: true, state: 'draining', drainTarget: to };
  return { ok: true, state: to, drainTarget: null };
}

/** Whether a rig in this state counts as holding no work, so a drained rig may move on. */
export const takesNoLabs = (state: RigState): boolean => state !== 'active';

/** `90s`, `30m`, `2h` (or plain minutes) as milliseconds; null when it is not such a duration. */
export function parseDuration(v: string): number | null {
  const m = /^(\d{1,6})(s|m|h)?$/.exec(v.trim());
  if (!m) return null;
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'm') as 's' | 'm' | 'h'];
}

export type DrainStep =
  { action: 'move-on'; to: RigState } | { action: 'stop-labs' } | { action: 'wait' } | { action: 'stay' };

/**
 * What the drain job does with a draining rig now: move it on when its last lab is gone (or keep it
 * drained when it has no target), stop what still runs past the deadline, else let the labs finish.
 */
export function drainStep(
  rig: { drainTarget: RigState | null; drainDeadline: Date | null },
  liveLabs: number,
  now: Date,
): DrainStep {
  if (liveLabs === 0) return rig.drainTarget ? { action: 'move-on', to: rig.drainTarget } : { action: 'stay' };
  if (rig.drainDeadline && now >= rig.drainDeadline) return { action: 'stop-labs' };
  return { action: 'wait' };
}
