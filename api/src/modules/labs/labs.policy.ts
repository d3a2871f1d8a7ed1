import type { GpuPolicy } from '../templates/lab-template.entity';
import { LabState } from './lab-session.entity';

// Pure rules of the lab lifecycle, placement and culling; unit-tested without Nest or a database.

/** DESIGN.md's state machine: which transitions exist. */
const NEXT: Record<LabState, readonly LabState[]> = {
  queued: ['placing', 'stopping', 'stopped', 'failed'],
  placing: ['queued', 'starting', 'stopping', 'failed', 'lost'],
  starting: ['ready', 'stopping', 'failed', 'lost'],
  ready: ['stopping', 'failed', 'lost'],
  stopping: ['stopped', 'failed', 'lost'],
  stopped: [],
  failed: [],
  lost: [],
};

export function canTransition(from: LabState, to: LabState): boolean {
  return NEXT[from].includes(to);
}

/** States a transition to `to` may come from. */
export function sourcesOf(to: LabState): LabState[] {
  return (Object.keys(NEXT) as LabState[]).filter((from) => NEXT[from].includes(to));
}

export interface SlotCandidate {
  slotId: string;
  gpuModel: string;
  driverKind: string;
  vramMb: number;
  /** The part of the GPU this slot is (1: the whole GPU). */
  share: number;
  healthy: boolean;
}

export interface RigCandidate {
  id: string;
  name: string;
  /** Only active rigs whose engine answered take new labs. */
  state: 'active' | 'draining' | 'retired';
  reachable: boolean;
  hasImage: boolean;
  cpuFreeMillis: number;
  memoryFreeMb: number;
  freeSlots: SlotCandidate[];
  runningLabs: number;
  /** The rig that already holds this student's home volume (local storage). */
  holdsHome: boolean;
}

export interface PlacementRequest {
  cpuMillis: number;
  memoryMb: number;
  gpu: GpuPolicy;
}

export type Placement =
  | { ok: true; rigId: string; slotIds: string[] }
  /** `waitFor: 'gpu'`: only a GPU slot is missing, so the launch joins the fair GPU queue. */
  | { ok: false; reason: string; retryable: boolean; waitFor?: 'gpu' };

/**
 * Whether a slot suits a template's GPU policy: a healthy GPU of an allowed model and driver kind;
 * 'whole' wants a slot that is the entire GPU, 'shared' a slot with at least minVramMb of its VRAM.
 */
export function slotFits(slot: SlotCandidate, gpu: GpuPolicy): boolean {
  if (!slot.healthy) return false;
  if (gpu.models?.length && !gpu.models.includes(slot.gpuModel)) return false;
  if (gpu.driverKinds?.length && !gpu.driverKinds.includes(slot.driverKind)) return false;
  if ((gpu.mode ?? 'whole') === 'whole') {
    if (slot.share < 0.999) return false;
    if (gpu.minVramMb && slot.vramMb < gpu.minVramMb) return false;
  } else if (gpu.minVramMb && slot.vramMb * slot.share < gpu.minVramMb) return false;
  return true;
}

/**
 * Chooses a rig (and a GPU slot when asked) among candidates: active, reachable, holding the image
 * (or, when none does, able to pull it), with free CPU, memory and a fitting slot. Prefers the rig with the student's home (no data to move),
 * then spreads load (most free memory share, then fewest labs). The reason for "no" names the scarce
 * resource so the student knows whether waiting helps.
 */
export function choosePlacement(rigs: RigCandidate[], req: PlacementRequest): Placement {
  const eligible = rigs.filter((r) => r.state === 'active' && r.reachable);
  if (eligible.length === 0) return { ok: false, reason: 'no rig is available right now', retryable: true };
  // Rigs holding the image start at once; only when none does is a rig asked to pull it.
  const withImage = eligible.some((r) => r.hasImage) ? eligible.filter((r) => r.hasImage) : eligible;
  const roomy = withImage.filter((r) => r.cpuFreeMillis >= req.cpuMillis && r.memoryFreeMb >= req.memoryMb);
  if (roomy.length === 0) return { ok: false, reason: 'all rigs are full (CPU or memory)', retryable: true };
  let fitting = roomy.map((r) => ({
    rig: r,
    slots: req.gpu.required ? r.freeSlots.filter((s) => slotFits(s, req.gpu)) : [],
  }));
  if (req.gpu.required) {
    fitting = fitting.filter((f) => f.slots.length > 0);
    if (fitting.length === 0) {
      const anyModel = withImage.some((r) => r.freeSlots.some((s) => slotFits(s, req.gpu)));
      return {
        ok: false,
        reason: anyModel ? 'all rigs with a suitable GPU are full' : 'no suitable GPU is free',
        retryable: true,
        waitFor: anyModel ? undefined : 'gpu',
      };
    }
  }
  fitting.sort(
    (a, b) =>
      Number(b.rig.holdsHome) - Number(a.rig.holdsHome) ||
      b.rig.memoryFreeMb - a.rig.memoryFreeMb ||
      a.rig.runningLabs - b.rig.runningLabs ||
      a.rig.name.localeCompare(b.rig.name),
  );
  const best = fitting[0];
  return { ok: true, rigId: best.rig.id, slotIds: best.slots.map((s) => s.slotId) };
}

export interface ActivityView {
  now: Date;
  startedAt: Date;
  lastActivityAt: Date;
  /** Any kernel executing right now (a long training run is never idle). */
  busy: boolean;
  idleTimeoutS: number;
  maxAgeS: number;
  warnedAt: Date | null;
  /** How long before a stop the student is warned. */
  warnAheadS: number;
}

export type CullDecision =
  { action: 'keep' } | { action: 'warn'; stopAt: Date; reason: string } | { action: 'stop'; reason: string };

/**
 * Idle culling in JupyterHub's spirit: idle = no busy kernel and no activity for the idle timeout;
 * plus a maximum age. The student is warned `warnAheadS` before a stop; a warned lab that becomes
 * active again is kept (the warning is cleared by the caller).
 */
export function cullDecision(v: ActivityView): CullDecision {
  const ageS = (v.now.getTime() - v.startedAt.getTime()) / 1000;
  const idleS = v.busy ? 0 : (v.now.getTime() - v.lastActivityAt.getTime()) / 1000;
  const ageLeft = v.maxAgeS - ageS;
  const idleLeft = v.busy ? Infinity : v.idleTimeoutS - idleS;
  const left = Math.min(ageLeft, idleLeft);
  const why =
    ageLeft <= idleLeft ? `it reached the maximum age of ${fmt(v.maxAgeS)}` : `it was idle for ${fmt(v.idleTimeoutS)}`;
  if (left <= 0) {
    // Never stop without a warning first, however late the culler comes round.
    if (!v.warnedAt) return { action: 'warn', stopAt: new Date(v.now.getTime() + v.warnAheadS * 1000), reason: why };
    const warnedFor = (v.now.getTime() - v.warnedAt.getTime()) / 1000;
    return warnedFor >= v.warnAheadS ? { action: 'stop', reason: `stopped because ${why}` } : { action: 'keep' };
  }
  if (left <= v.warnAheadS && !v.warnedAt) {
    return { action: 'warn', stopAt: new Date(v.now.getTime() + left * 1000), reason: why };
  }
  return { action: 'keep' };
}

function fmt(s: number): string {
  if (s % 3600 === 0) return `${s / 3600} h`;
  if (s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}
