import type { BurnInRun } from './burn-in-run.entity';
import { pendingChecks, runView, sweepStep, verdict } from './burn-in.policy';

const ok = (name: string) => ({ name, status: 'passed' as const, detail: 'fine', figures: {} });

describe('verdict', () => {
  it('passes when nothing failed, naming the run and what could not be tested', () => {
    expect(
      verdict('r1', [
        ok('cpu'),
        ok('memory'),
        { name: 'gpu', status: 'not-available', detail: 'no runtime', figures: {} },
      ]),
    ).toEqual({ result: 'passed', reason: 'burn-in run r1 passed (cpu, memory; not available: gpu)' });
  });
  it('fails on the first failed check with its detail, within the 500 characters a state reason may have', () => {
    const v = verdict('r1', [
      ok('cpu'),
      { name: 'disk', status: 'failed', detail: 'sums differ', figures: {} },
      { name: 'gpu:0', status: 'failed', detail: 'later', figures: {} },
    ]);
    expect(v).toEqual({ result: 'failed', reason: 'burn-in failed: disk: sums differ' });
    const long = verdict('r1', [{ name: 'cpu', status: 'failed', detail: 'x'.repeat(900), figures: {} }]);
    expect(long.reason).toHaveLength(500);
    expect(verdict('r1', [])).toEqual({ result: 'failed', reason: 'burn-in failed: no check ran' });
  });
});

describe('runView', () => {
  it('counts finished checks and names the running one', () => {
    const checks = pendingChecks(['cpu', 'memory', 'disk', 'gpu']);
    checks[0] = { ...checks[0], status: 'passed' };
    checks[1] = { ...checks[1], status: 'running' };
    const run = {
      id: 'r1',
      status: 'running',
      startedAt: new Date('2026-12-03T10:00:00Z'),
      finishedAt: null,
      reason: '',
      checks,
    } as unknown as BurnInRun;
    expect(runView(run, 'rig-a')).toMatchObject({
      id: 'r1',
      rig: 'rig-a',
      startedAt: '2026-12-03T10:00:00.000Z',
      finishedAt: null,
      progress: { done: 1, total: 4, current: 'memory' },
    });
  });
});

describe('sweepStep', () => {
  const at = (iso: string) => new Date(iso);
  it('runs a waiting run, and replaces one a worker had begun', () => {
    expect(sweepStep('burn-in', { id: 'a', claimedAt: null }, null, null)).toEqual({ action: 'execute', runId: 'a' });
    expect(sweepStep('burn-in', { id: 'a', claimedAt: at('2026-01-01') }, null, null)).toEqual({
      action: 'replace-interrupted',
      runId: 'a',
    });
  });
  it('re-applies a verdict reached since the rig entered burn-in, else starts a run', () => {
    const failed = {
      id: 'b',
      status: 'failed' as const,
      reason: 'burn-in failed: cpu: x',
      finishedAt: at('2026-01-02'),
    };
    expect(sweepStep('burn-in', null, failed, at('2026-01-01'))).toEqual({
      action: 'apply-verdict',
      runId: 'b',
      to: 'maintenance',
      reason: 'burn-in failed: cpu: x',
    });
    expect(sweepStep('burn-in', null, { ...failed, status: 'passed' }, at('2026-01-01'))).toMatchObject({
      to: 'active',
    });
    // A verdict from before the rig's latest entry into burn-in is old news.
    expect(sweepStep('burn-in', null, failed, at('2026-01-03'))).toEqual({ action: 'start-run' });
    expect(sweepStep('burn-in', null, { ...failed, status: 'cancelled' }, at('2026-01-01'))).toEqual({
      action: 'start-run',
    });
    expect(sweepStep('burn-in', null, null, null)).toEqual({ action: 'start-run' });
    expect(sweepStep('active', null, failed, null)).toEqual({ action: 'none' });
  });
});
