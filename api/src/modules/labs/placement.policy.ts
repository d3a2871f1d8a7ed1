import type { GpuPolicy } from '../templates/lab-template.entity';
import { choosePlacement, Placement, PlacementRequest, RigCandidate, slotFits } from './labs.policy';

// Reliability in placement (issue 9), pure: which labs prefer reliable hardware, and how the choice of
// labs.policy.ts's choosePlacement is narrowed to the most reliable rigs and GPUs that fit.

/**
 * Scores differing by less than this are the same to placement: the score moves a little with every
 * launch, and a rig holding the student's home (or emptier) should not lose to noise.
 */
export const RELIABILITY_BAND = 0.05;

/** The scores the scoring job stored last; a missing or null score (not judged yet) counts as 1. */
export interface PlacementScores {
  rigs: Record<string, number | null | undefined>;
  /** By slot id: the score of the slot's GPU. */
  slots: Record<string, number | null | undefined>;
}

/**
 * Why a lab should land on reliable hardware, or null when it need not: every GPU lab (the scarce,
 * failure-prone part of a mining rig), and labs whose longest session is above `longLabHours` (losing
 * hours of work hurts more than a slower start).
 */
export function reliabilityWanted(ask: { gpu: GpuPolicy; maxAgeS: number }, longLabHours: number): string | null {
  if (ask.gpu.required) return 'GPU lab';
  if (ask.maxAgeS > longLabHours * 3600) return `long lab (up to ${Math.round(ask.maxAgeS / 360) / 10} h)`;
  return null;
}

export type ReliablePlacement =
  | Extract<Placement, { ok: false }>
  | (Extract<Placement, { ok: true }> & {
      /** One line for the log: what decided. */
      why: string;
      /** The score placement went by (1 when not judged yet), and the rig today's order alone would have picked. */
      score: number;
      usualRigId: string;
    });

const known = (v: number | null | undefined) => (typeof v === 'number' ? v : 1);
const bandOf = (score: number) => Math.floor(Math.round(score * 1000) / (RELIABILITY_BAND * 1000));

/**
 * Places as choosePlacement does (same eligibility, same refusals), but when `wanted` names a reason
 * tries the rigs band by band, most reliable first, so today's tie-breaks (the student's home, then
 * load) decide only among rigs about as reliable. A GPU lab's rig counts as reliable as the lesser of
 * the rig and its best fitting GPU, and the GPU slots are offered best GPU first.
 */
export function placeByReliability(
  rigs: RigCandidate[],
  req: PlacementRequest,
  scores: PlacementScores,
  wanted: string | null,
): ReliablePlacement {
  const usual = choosePlacement(rigs, req);
  if (!usual.ok) return usual;
  const byId = new Map(rigs.map((r) => [r.id, r]));
  const scoreOfRig = (r: RigCandidate): number => {
    const rig = known(scores.rigs[r.id]);
    if (!req.gpu.required) return rig;
    const fitting = r.freeSlots.filter((s) => slotFits(s, req.gpu)).map((s) => known(scores.slots[s.slotId]));
    return fitting.length ? Math.min(rig, Math.max(...fitting)) : 0;
  };
  const tieBreak = (r: RigCandidate) => (r.holdsHome ? "holds the student's home" : 'has the most room');
  const usualRig = byId.get(usual.rigId)!;
  if (!wanted)
    return {
      ...usual,
      why: `${usualRig.name} ${tieBreak(usualRig)}`,
      score: scoreOfRig(usualRig),
      usualRigId: usual.rigId,
    };

  // The same pool choosePlacement draws from: rigs holding the image, when any does.
  const eligible = rigs.filter((r) => r.state === 'active' && r.reachable);
  const pool = eligible.some((r) => r.hasImage) ? eligible.filter((r) => r.hasImage) : eligible;
  const bands = [...new Set(pool.map((r) => bandOf(scoreOfRig(r))))].sort((a, b) => b - a);
  for (const band of bands) {
    const p = choosePlacement(
      pool.filter((r) => bandOf(scoreOfRig(r)) === band),
      req,
    );
    if (!p.ok) continue;
    const chosen = byId.get(p.rigId)!;
    const score = scoreOfRig(chosen);
    // Stable sort: equally reliable GPUs keep their index order.
    const slotIds = [...p.slotIds].sort((a, b) => known(scores.slots[b]) - known(scores.slots[a]));
    const over =
      p.rigId === usual.rigId
        ? ''
        : `, over ${usualRig.name} (${scoreOfRig(usualRig).toFixed(3)}) that home and load alone would pick`;
    return {
      ...p,
      slotIds,
      score,
      usualRigId: usual.rigId,
      why: `${wanted}: ${chosen.name} is among the most reliable that fit (${score.toFixed(3)})${over}; it ${tieBreak(chosen)}`,
    };
  }
  return {
    ...usual,
    why: `${usualRig.name} ${tieBreak(usualRig)}`,
    score: scoreOfRig(usualRig),
    usualRigId: usual.rigId,
  };
}
