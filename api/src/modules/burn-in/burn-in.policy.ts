import type { BurnInCheckResult } from '../../../../spawner/src';
import type { BurnInRun, BurnInStatus, StoredCheck } from './burn-in-run.entity';

/** The actor of the moves a burn-in makes (rig_events, audit). */
export const BURN_IN_ACTOR = 'rule:burn-in';

/** RigStateService takes reasons of up to 500 characters. */
const REASON_MAX = 500;

export interface BurnInRunView {
  id: string;
  rig: string;
  status: BurnInStatus;
  startedAt: string;
  finishedAt: string | null;
  reason: string;
  progress: { done: number; total: number; current: string | null };
  checks: StoredCheck[];
}

const ENDED: ReadonlyArray<StoredCheck['status']> = ['passed', 'failed', 'not-available'];

export function runView(run: BurnInRun, rig: string): BurnInRunView {
  return {
    id: run.id,
    rig,
    status: run.status,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt?.toISOString() ?? null,
    reason: run.reason,
    progress: {
      done: run.checks.filter((c) => ENDED.includes(c.status)).length,
      total: run.checks.length,
      current: run.checks.find((c) => c.status === 'running')?.name ?? null,
    },
    checks: run.checks,
  };
}

export const pendingChecks = (names: string[]): StoredCheck[] =>
  names.map((name) => ({ name, status: 'pending', detail: '', figures: {}, startedAt: null, finishedAt: null }));

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export type Verdict = { result: 'passed'; reason: string } | { result: 'failed'; reason: string };

/**
 * What a finished run means for the rig. It passes when no check failed: a check that could not run
 * here (`not-available`, e.g. no GPU runtime) is reported but does not hold the rig back, because
 * telling it apart from a broken GPU is what the reason is for. It fails on the first failed check,
 * named with its detail: `burn-in failed: <check>: <detail>`.
 */
export function verdict(runId: string, results: BurnInCheckResult[]): Verdict {
  const failed = results.find((r) => r.status === 'failed');
  if (failed) return { result: 'failed', reason: clip(`burn-in failed: ${failed.name}: ${failed.detail}`, REASON_MAX) };
  if (!results.length) return { result: 'failed', reason: 'burn-in failed: no check ran' };
  const passed = results.filter((r) => r.status === 'passed').map((r) => r.name);
  const na = results.filter((r) => r.status === 'not-available').map((r) => r.name);
  return {
    result: 'passed',
    reason: clip(
      `burn-in run ${runId} passed (${passed.join(', ')}${na.length ? `; not available: ${na.join(', ')}` : ''})`,
      REASON_MAX,
    ),
  };
}

export type SweepStep =
  | { action: 'none' }
  | { action: 'execute'; runId: string }
  | { action: 'replace-interrupted'; runId: string }
  | { action: 'apply-verdict'; runId: string; to: 'active' | 'maintenance'; reason: string }
  | { action: 'start-run' };

/**
 * What the sweep does for one rig that nobody is burning in right now (its burn-in lock was free):
 * run a waiting run (asked from the CLI, or its job lost), replace one a dead worker had begun,
 * re-apply a verdict whose state change was lost, or start a run for a rig sitting in burn-in
 * without one. `enteredBurnInAt` is the rig's last move into burn-in.
 */
export function sweepStep(
  rigState: string,
  running: Pick<BurnInRun, 'id' | 'claimedAt'> | null,
  latest: Pick<BurnInRun, 'id' | 'status' | 'reason' | 'finishedAt'> | null,
  enteredBurnInAt: Date | null,
): SweepStep {
  if (running)
    return running.claimedAt
      ? { action: 'replace-interrupted', runId: running.id }
      : { action: 'execute', runId: running.id };
  if (rigState !== 'burn-in') return { action: 'none' };
  const decided =
    latest &&
    (latest.status === 'passed' || latest.status === 'failed') &&
    latest.finishedAt &&
    (!enteredBurnInAt || latest.finishedAt >= enteredBurnInAt);
  if (decided)
    return {
      action: 'apply-verdict',
      runId: latest.id,
      to: latest.status === 'passed' ? 'active' : 'maintenance',
      reason: latest.status === 'passed' ? `burn-in run ${latest.id} passed` : latest.reason,
    };
  return { action: 'start-run' };
}
