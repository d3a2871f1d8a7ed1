import { RIG_STATES, RigState } from './rig.entity';
import { drainStep, parseDuration, planRigTransition } from './rig-lifecycle.policy';

describe('planRigTransition', () => {
  it('takes a new rig through burn-in into the pool', () => {
    expect(planRigTransition('registered', 'burn-in', 0)).toEqual({ ok: true, state: 'burn-in', drainTarget: null });
    expect(planRigTransition('burn-in', 'active', 0)).toEqual({ ok: true, state: 'active', drainTarget: null });
  });

  it('drains a busy rig on its way to maintenance or retirement, and goes straight there when idle', () => {
    expect(planRigTransition('active', 'maintenance', 2)).toEqual({
      ok: true,
      state: 'draining',
      drainTarget: 'maintenance',
    });
    expect(planRigTransition('active', 'retired', 1)).toEqual({ ok: true, state: 'draining', drainTarget: 'retired' });
    expect(planRigTransition('active', 'maintenance', 0)).toEqual({
      ok: true,
      state: 'maintenance',
      drainTarget: null,
    });
    expect(planRigTransition('draining', 'retired', 3)).toEqual({
      ok: true,
      state: 'draining',
      drainTarget: 'retired',
    });
  });

  it('keeps a plain drain drained (no target) and lets an admin undo it', () => {
    expect(planRigTransition('active', 'draining', 4)).toEqual({ ok: true, state: 'draining', drainTarget: null });
    expect(planRigTransition('draining', 'active', 4)).toEqual({ ok: true, state: 'active', drainTarget: null });
  });

  it('sends a rig leaving maintenance through burn-in, and says so', () => {
    const r = planRigTransition('maintenance', 'active', 0);
    expect(r).toEqual({ ok: false, why: expect.stringContaining('it must pass burn-in first') });
    expect(planRigTransition('maintenance', 'burn-in', 0)).toMatchObject({ ok: true, state: 'burn-in' });
  });

  it('never brings back a retired rig, and refuses a move to the same state', () => {
    for (const to of RIG_STATES.filter((s) => s !== 'retired'))
      expect(planRigTransition('retired', to, 0)).toEqual({ ok: false, why: expect.stringMatching(/stays retired/) });
    expect(planRigTransition('active', 'active', 0)).toEqual({ ok: false, why: 'the rig is active already' });
  });

  it('refuses every move outside the table, naming where the rig can go', () => {
    const allowed: Array<[RigState, RigState]> = [
      ['registered', 'burn-in'],
      ['registered', 'active'],
      ['registered', 'retired'],
      ['burn-in', 'active'],
      ['burn-in', 'maintenance'],
      ['burn-in', 'retired'],
      ['active', 'draining'],
      ['active', 'maintenance'],
      ['active', 'retired'],
      ['draining', 'active'],
      ['draining', 'maintenance'],
      ['draining', 'retired'],
      ['draining', 'burn-in'],
      ['maintenance', 'burn-in'],
      ['maintenance', 'retired'],
    ];
    for (const from of RIG_STATES)
      for (const to of RIG_STATES) {
        const ok = allowed.some(([f, t]) => f === from && t === to);
        expect([from, to, planRigTransition(from, to, 0).ok]).toEqual([from, to, ok]);
      }
    expect(planRigTransition('active', 'burn-in', 0)).toEqual({
      ok: false,
      why: 'a rig cannot go from active to burn-in (from active it can go to draining, maintenance, retired)',
    });
  });

  it('lets a rule (the reliability floor) send an active rig back to burn-in, draining it first when busy', () => {
    expect(planRigTransition('active', 'burn-in', 0, { byRule: true })).toEqual({
      ok: true,
      state: 'burn-in',
      drainTarget: null,
    });
    expect(planRigTransition('active', 'burn-in', 2, { byRule: true })).toEqual({
      ok: true,
      state: 'draining',
      drainTarget: 'burn-in',
    });
    // The drain job then moves the emptied rig on (as 'system', not a rule).
    expect(planRigTransition('draining', 'burn-in', 0)).toEqual({ ok: true, state: 'burn-in', drainTarget: null });
    expect(planRigTransition('maintenance', 'active', 0, { byRule: true }).ok).toBe(false);
  });
});

describe('drainStep', () => {
  const now = new Date('2026-12-03T12:00:00Z');
  const before = new Date('2026-12-03T11:59:00Z');
  const after = new Date('2026-12-03T12:01:00Z');

  it('lets labs finish before the deadline and stops them at it', () => {
    expect(drainStep({ drainTarget: 'maintenance', drainDeadline: after }, 2, now)).toEqual({ action: 'wait' });
    expect(drainStep({ drainTarget: 'maintenance', drainDeadline: before }, 2, now)).toEqual({ action: 'stop-labs' });
    expect(drainStep({ drainTarget: null, drainDeadline: null }, 2, now)).toEqual({ action: 'wait' });
  });

  it('moves an empty rig on to its target, or keeps it drained without one', () => {
    expect(drainStep({ drainTarget: 'retired', drainDeadline: after }, 0, now)).toEqual({
      action: 'move-on',
      to: 'retired',
    });
    expect(drainStep({ drainTarget: null, drainDeadline: before }, 0, now)).toEqual({ action: 'stay' });
  });
});

describe('parseDuration', () => {
  it('reads seconds, minutes and hours, plain numbers as minutes', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('15')).toBe(900_000);
  });
  it('rejects anything else', () => {
    for (const bad of ['', 'soon', '-5m', '1.5h', '10d']) expect(parseDuration(bad)).toBeNull();
  });
});
