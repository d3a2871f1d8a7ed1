import type { RigState } from './rig.entity';

// Pure rules of the rigs board (issue 9): which alerts a rig shows at a glance.

export interface RigAlert {
  severity: 'critical' | 'warning';
  text: string;
}

export interface AlertInput {
  state: RigState;
  stateReason: string;
  lastSeenAt: Date | null;
  probeFailures: number;
  /** The rig's newest state change: who made it (`rule:<name>` for the portal's own rules). */
  lastChangeBy: string | null;
  /** Latest telemetry's disk of the engine's data root, MiB (null: no recent sample). */
  diskFreeMb: number | null;
  diskTotalMb: number | null;
  gpus: Array<{ index: number; model: string; healthy: boolean; healthReason: string }>;
  /** From the reliability scores, where they exist. */
  reliability: { score: number; floor: number; belowFloor: boolean } | null;
}

export interface AlertSettings {
  now: Date;
  /** The engine probe's interval: an engine silent for more than two of them is "not seen". */
  probeIntervalS: number;
  /** RIG_DISK_MIN_FREE_PERCENT: below it the rig is critical, below twice it a warning. */
  diskMinFreePercent: number;
  /** RIG_PROBE_FAILURES_TO_DRAIN: failed telemetry probes in a row before the rule drains the rig. */
  probeFailuresToDrain: number;
}

const minutes = (ms: number) => {
  const m = Math.round(ms / 60_000);
  return m < 1 ? 'under a minute' : m < 120 ? `${m} min` : `${Math.round(m / 60)} h`;
};

/**
 * A rig's alerts, critical ones first. A retired rig has none (it is out for good); a rig in
 * maintenance or registered is expected to be quiet, so its engine being away is only a warning.
 */
export function rigAlerts(r: AlertInput, s: AlertSettings): RigAlert[] {
  if (r.state === 'retired') return [];
  const out: RigAlert[] = [];
  const inService = r.state === 'active' || r.state === 'draining' || r.state === 'burn-in';

  const silentFor = r.lastSeenAt ? s.now.getTime() - r.lastSeenAt.getTime() : null;
  if (silentFor === null)
    out.push({ severity: inService ? 'critical' : 'warning', text: 'engine never answered the portal' });
  else if (silentFor > 2 * s.probeIntervalS * 1000)
    out.push({
      severity: inService ? 'critical' : 'warning',
      text: `engine not seen for ${minutes(silentFor)}`,
    });

  for (const g of r.gpus)
    if (!g.healthy)
      out.push({
        severity: 'critical',
        text: `GPU ${g.index} (${g.model}) quarantined${g.healthReason ? `: ${g.healthReason}` : ''}`,
      });

  if (r.probeFailures > 0)
    out.push({
      severity: r.probeFailures >= s.probeFailuresToDrain ? 'critical' : 'warning',
      text: `telemetry probe failing (${r.probeFailures} in a row)`,
    });

  if (r.diskFreeMb !== null && r.diskTotalMb) {
    const pct = (100 * r.diskFreeMb) / r.diskTotalMb;
    if (pct < s.diskMinFreePercent)
      out.push({ severity: 'critical', text: `disk nearly full: ${pct.toFixed(1)}% free` });
    else if (pct < 2 * s.diskMinFreePercent)
      out.push({ severity: 'warning', text: `disk filling up: ${pct.toFixed(1)}% free` });
  }

  const failedBurnIn = /^burn-in failed/i.test(r.stateReason);
  if (failedBurnIn) out.push({ severity: 'critical', text: r.stateReason });

  if (r.reliability?.belowFloor)
    out.push({
      severity: 'critical',
      text: `reliability ${r.reliability.score.toFixed(2)} below the floor of ${r.reliability.floor.toFixed(2)}`,
    });
  else if (r.lastChangeBy === 'rule:reliability' && r.state !== 'active')
    out.push({ severity: 'critical', text: `out of the pool for low reliability: ${r.stateReason}` });
  else if (
    r.lastChangeBy?.startsWith('rule:') &&
    !failedBurnIn &&
    (r.state === 'draining' || r.state === 'maintenance')
  )
    out.push({ severity: 'warning', text: `drained by ${r.lastChangeBy}: ${r.stateReason}` });

  return out.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'critical' ? -1 : 1));
}
