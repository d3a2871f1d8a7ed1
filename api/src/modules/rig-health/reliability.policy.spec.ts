import { looksLikePortalFault, floorVerdict, judged, scoreOf, windowStartOf } from './reliability.policy';

const now = new Date('2026-12-08T12:00:00Z');
const weekAgo = new Date('2026-12-01T12:00:00Z');
const clean = { probesUp: 0, probesDown: 0, launches: 0, failedLaunches: 0, faults: 0 };

describe('the reliability window', () => {
  it('rolls over the configured days, and starts afresh at a passed burn-in', () => {
    expect(windowStartOf(now, 7, null)).toEqual(weekAgo);
    expect(windowStartOf(now, 7, new Date('2026-11-20T00:00:00Z'))).toEqual(weekAgo);
    expect(windowStartOf(now, 7, new Date('2026-12-07T09:30:00Z'))).toEqual(new Date('2026-12-07T09:30:00Z'));
  });

  it('judges a rig only with enough complete hours of probes', () => {
    expect([judged(0, 1), judged(1, 1), judged(5, 6), judged(0, 0)]).toEqual([false, true, false, true]);
  });
});

describe(scoreOf.name, () => {
  it('reads availability from the share of probes that found the rig up', () => {
    const r = scoreOf({ probesUp: 900, probesDown: 100, launches: 20, failedLaunches: 2, faults: 7 }, weekAgo, now);
    // 0.9 × 0.9 − 0.05 × (7 faults / 7 days)
    expect(r).toEqual({ availability: 0.9, launchSuccess: 0.9, faultsPerDay: 1, score: 0.76 });
  });

  it('counts a rig nobody has probed yet as up, and one without launches as launching fine', () => {
    expect(scoreOf(clean, weekAgo, now)).toEqual({ availability: 1, launchSuccess: 1, faultsPerDay: 0, score: 1 });
  });

  it('rates faults over at least a day, so one fault just after burn-in is not 24 a day', () => {
    const hourAgo = new Date(now.getTime() - 3_600_000);
    expect(scoreOf({ ...clean, probesUp: 120, faults: 1 }, hourAgo, now)).toMatchObject({
      faultsPerDay: 1,
      score: 0.95,
    });
  });
});

describe(floorVerdict.name, () => {
  // 0.98 × 1 − 0.05 × 2 faults a day
  const flaky = {
    score: 0.88,
    availability: 0.98,
    launchSuccess: 1,
    launches: 20,
    failedLaunches: 0,
    faults: 14,
    faultsPerDay: 2,
    floor: 0.9,
  };
  const active = { state: 'active' as const, judged: true, windowStart: weekAgo };

  it('sends an active rig below the floor to burn-in, saying what pulled it down', () => {
    expect(floorVerdict(flaky, active, now)).toEqual({
      action: 'to-burn-in',
      reason:
        'reliability 0.880 is below the floor 0.90 over the last 7.0 days, mostly from health-rule faults: ' +
        'up 98.0% of probes, 0 of 20 launches failed, 14 health-rule fault(s) (2.00 a day)',
    });
  });

  it('names the biggest loss: downtime, or failed launches', () => {
    const down = { ...flaky, availability: 0.8, launchSuccess: 1, faultsPerDay: 0, faults: 0, score: 0.8 };
    expect(floorVerdict(down, active, now)).toMatchObject({
      reason: expect.stringContaining('mostly from failed probes'),
    });
    const launches = { ...flaky, availability: 1, launchSuccess: 0.7, faultsPerDay: 0, faults: 0, score: 0.7 };
    const soon = { ...active, windowStart: new Date(now.getTime() - 5 * 3_600_000) };
    expect(floorVerdict(launches, soon, now)).toMatchObject({
      reason: expect.stringMatching(/over the last 5 h, mostly from failed launches/),
    });
  });

  it('keeps rigs at or above the floor, rigs not judged yet, and rigs that are not active', () => {
    expect(floorVerdict({ ...flaky, score: 0.9 }, active, now)).toEqual({ action: 'keep' });
    expect(floorVerdict(flaky, { ...active, judged: false }, now)).toEqual({ action: 'keep' });
    for (const state of ['draining', 'burn-in', 'maintenance', 'registered'] as const)
      expect(floorVerdict(flaky, { ...active, state }, now)).toEqual({ action: 'keep' });
  });
});

describe('looksLikePortalFault', () => {
  const rig = (belowFloor: boolean, state: 'active' | 'draining' = 'active', judged = true) => ({
    state,
    judged,
    belowFloor,
  });
  it('holds the floor back when most of a judged pool falls below it at once', () => {
    expect(looksLikePortalFault([rig(true), rig(true), rig(true), rig(false)])).toBe(true);
    expect(looksLikePortalFault([rig(true), rig(true), rig(false), rig(false)])).toBe(false);
  });
  it('judges a small pool, or few judged active rigs, one by one', () => {
    expect(looksLikePortalFault([rig(true), rig(true), rig(true)])).toBe(false);
    expect(
      looksLikePortalFault([rig(true), rig(true), rig(true), rig(true, 'draining'), rig(true, 'active', false)]),
    ).toBe(false);
  });
});
