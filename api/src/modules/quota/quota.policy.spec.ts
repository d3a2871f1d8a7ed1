import {
  admit,
  BudgetState,
  charge,
  checkCeilingPatch,
  checkTightening,
  decayed,
  effectiveLimits,
  estimateWaits,
  orderQueue,
  QuotaCeiling,
  sliceStep,
  weekOf,
} from './quota.policy';

const ceiling: QuotaCeiling = {
  maxConcurrentLabs: 2,
  cpuHoursPerWeek: 20,
  gpuMinutesPerWeek: 120,
  coursePoolGpuMinutesPerWeek: 1000,
  sliceMinutes: 60,
  gpuRates: { 'RTX 3060': 2 },
};

const fresh: BudgetState = {
  gpuLeft: 120,
  gpuCommitted: 0,
  cpuMinutesLeft: 1200,
  poolLeft: 1000,
  poolCommitted: 0,
  liveLabs: 0,
};
const monday = new Date('2026-12-07T00:00:00Z');

describe('quota limits', () => {
  it('takes the tighter of ceiling and tightening, null meaning no limit', () => {
    const open: QuotaCeiling = { ...ceiling, cpuHoursPerWeek: null };
    const eff = effectiveLimits(open, { cpuHoursPerWeek: 5, gpuMinutesPerWeek: 200, sliceMinutes: 30 });
    expect(eff.cpuHoursPerWeek).toBe(5);
    expect(eff.gpuMinutesPerWeek).toBe(120); // an instructor cannot loosen
    expect(eff.sliceMinutes).toBe(30);
    expect(eff.gpuRates).toEqual({ 'RTX 3060': 2 });
  });

  it('lets instructors tighten but not loosen, and not touch rates', () => {
    expect(checkTightening({ gpuMinutesPerWeek: 60 }, ceiling)).toEqual({ ok: true, value: { gpuMinutesPerWeek: 60 } });
    const loose = checkTightening({ gpuMinutesPerWeek: 600 }, ceiling);
    expect(loose.ok).toBe(false);
    expect(!loose.ok && loose.reason).toMatch(/may only be tightened.*at most 120 GPU-minutes/);
    expect(checkTightening({ gpuRates: { x: 1 } }, ceiling).ok).toBe(false);
    expect(checkTightening({ bogus: 1 }, ceiling).ok).toBe(false);
    expect(checkTightening({ maxConcurrentLabs: 1.5 }, ceiling).ok).toBe(false);
    // null clears the instructor's own value
    expect(checkTightening({ sliceMinutes: null }, ceiling)).toEqual({ ok: true, value: { sliceMinutes: undefined } });
  });

  it('validates an admin patch with reasons', () => {
    expect(checkCeilingPatch({ gpuMinutesPerWeek: null, gpuRates: { 'GTX 1070': 1 } }).ok).toBe(true);
    const bad = checkCeilingPatch({ gpuMinutesPerWeek: -1 });
    expect(!bad.ok && bad.reason).toMatch(/gpuMinutesPerWeek must be between 0/);
    const rate = checkCeilingPatch({ gpuRates: { 'RX 580': 0 } });
    expect(!rate.ok && rate.reason).toMatch(/RX 580.*above 0/);
    expect(checkCeilingPatch({ sliceMinutes: null }).ok).toBe(false);
    expect(checkCeilingPatch('x').ok).toBe(false);
  });
});

describe('weeks', () => {
  it('runs Monday 00:00 UTC to the next Monday', () => {
    const w = weekOf(new Date('2026-12-03T15:00:00Z')); // a Thursday
    expect(w.start.toISOString()).toBe('2026-11-30T00:00:00.000Z');
    expect(w.end.toISOString()).toBe('2026-12-07T00:00:00.000Z');
    expect(weekOf(new Date('2026-12-06T23:59:59Z')).label).toBe('2026-11-30');
    expect(weekOf(monday).label).toBe('2026-12-07');
  });
});

describe(admit.name, () => {
  it('admits a GPU lab and reserves one slice', () => {
    expect(admit(ceiling, fresh, true, monday)).toEqual({ ok: true, reserveGpuMinutes: 60 });
  });

  it('reserves only what is left when less than a slice remains', () => {
    expect(admit(ceiling, { ...fresh, gpuLeft: 20 }, true, monday)).toEqual({ ok: true, reserveGpuMinutes: 20 });
  });

  it('refuses a second GPU lab when the budget is promised to the first', () => {
    const r = admit(ceiling, { ...fresh, gpuLeft: 60, gpuCommitted: 60 }, true, monday);
    expect(r).toMatchObject({ ok: false, code: 'gpu_budget_committed' });
  });

  it('refuses when the budget is spent and says when it refills', () => {
    const r = admit(ceiling, { ...fresh, gpuLeft: 0.5 }, true, monday);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/120 GPU-minutes for this week are used up.*refill on 2026-12-07 00:00 UTC/);
    expect(!r.ok && r.refillsAt).toEqual(monday);
  });

  it('counts live labs, CPU time and the course pool', () => {
    expect(admit(ceiling, { ...fresh, liveLabs: 2 }, false, monday)).toMatchObject({
      ok: false,
      code: 'too_many_labs',
    });
    expect(admit(ceiling, { ...fresh, cpuMinutesLeft: 0 }, false, monday)).toMatchObject({
      ok: false,
      code: 'cpu_budget',
    });
    expect(admit(ceiling, { ...fresh, poolLeft: 10, poolCommitted: 10 }, true, monday)).toMatchObject({
      ok: false,
      code: 'course_pool',
    });
    // the pool limits the reservation too
    expect(admit(ceiling, { ...fresh, poolLeft: 30 }, true, monday)).toEqual({ ok: true, reserveGpuMinutes: 30 });
    // a CPU lab ignores GPU budgets
    expect(admit(ceiling, { ...fresh, gpuLeft: 0, poolLeft: 0 }, false, monday)).toEqual({
      ok: true,
      reserveGpuMinutes: 0,
    });
  });

  it('treats null limits as unlimited and 0 GPU minutes as no GPU', () => {
    const open: QuotaCeiling = {
      ...ceiling,
      maxConcurrentLabs: null,
      cpuHoursPerWeek: null,
      gpuMinutesPerWeek: null,
      coursePoolGpuMinutesPerWeek: null,
    };
    const state = { ...fresh, liveLabs: 50, cpuMinutesLeft: -5, gpuLeft: -5, poolLeft: null };
    expect(admit(open, state, true, monday)).toEqual({ ok: true, reserveGpuMinutes: 60 });
    expect(admit({ ...ceiling, gpuMinutesPerWeek: 0 }, fresh, true, monday)).toMatchObject({ code: 'no_gpu_quota' });
  });
});

describe('charging and fair share', () => {
  it('charges wall minutes × share × rate', () => {
    expect(charge(60_000, 1, 1)).toBe(1);
    expect(charge(30 * 60_000, 0.5, 2)).toBe(30);
  });

  it('halves usage every half-life', () => {
    expect(decayed(100, 0, 3600_000)).toBe(100);
    expect(decayed(100, 3600_000, 3600_000)).toBeCloseTo(50);
    expect(decayed(100, 2 * 3600_000, 3600_000)).toBeCloseTo(25);
  });

  it('orders least recent usage first, then by arrival', () => {
    const t = (s: number) => new Date(1_000_000 + s * 1000);
    const q = orderQueue([
      { sessionId: 'a', userId: 'heavy', queuedAt: t(0), usage: 90 },
      { sessionId: 'b', userId: 'light', queuedAt: t(5), usage: 3 },
      { sessionId: 'c', userId: 'new1', queuedAt: t(9), usage: 0 },
      { sessionId: 'd', userId: 'new2', queuedAt: t(2), usage: 0 },
    ]);
    expect(q.map((x) => x.sessionId)).toEqual(['d', 'c', 'b', 'a']);
  });
});

describe(estimateWaits.name, () => {
  it('serves the queue from the slots as they free, one slice each', () => {
    const min = 60_000;
    // two slots: one frees in 5 min, one in 20; slices of 30 min
    expect(estimateWaits(4, [20 * min, 5 * min], 30 * min)).toEqual([5 * min, 20 * min, 35 * min, 50 * min]);
    expect(estimateWaits(2, [], 30 * min)).toEqual([null, null]);
    expect(estimateWaits(1, [-5], 1)).toEqual([0]);
  });
});

describe(sliceStep.name, () => {
  const end = new Date('2026-12-03T12:00:00Z');
  const at = (leftS: number) => new Date(end.getTime() - leftS * 1000);
  it('warns at 10 and 2 minutes once each, then ends', () => {
    expect(sliceStep(at(900), end, [600, 120], null)).toEqual({ action: 'none' });
    expect(sliceStep(at(590), end, [600, 120], null)).toEqual({ action: 'warn', aheadS: 600, leftS: 590 });
    expect(sliceStep(at(500), end, [600, 120], 600)).toEqual({ action: 'none' });
    expect(sliceStep(at(100), end, [600, 120], 600)).toEqual({ action: 'warn', aheadS: 120, leftS: 100 });
    expect(sliceStep(at(50), end, [600, 120], 120)).toEqual({ action: 'none' });
    expect(sliceStep(at(0), end, [600, 120], 120)).toEqual({ action: 'end' });
  });

  it('gives only the latest warning when the first was missed', () => {
    expect(sliceStep(at(60), end, [600, 120], null)).toEqual({ action: 'warn', aheadS: 120, leftS: 60 });
  });
});
