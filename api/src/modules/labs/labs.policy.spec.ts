import { slotFits, canTransition, choosePlacement, cullDecision, RigCandidate, sourcesOf } from './labs.policy';

const rig = (over: Partial<RigCandidate> & { id: string }): RigCandidate => ({
  name: over.id,
  state: 'active',
  reachable: true,
  hasImage: true,
  cpuFreeMillis: 4000,
  memoryFreeMb: 8192,
  freeSlots: [],
  runningLabs: 0,
  holdsHome: false,
  ...over,
});
const slot = (slotId: string, gpuModel = 'GTX 1070', driverKind = 'nvidia', vramMb = 8192) => ({
  slotId,
  gpuModel,
  driverKind,
  vramMb,
  share: 1,
  healthy: true,
});
const cpuOnly = { cpuMillis: 1000, memoryMb: 1024, gpu: { required: false } };

describe('lab state machine', () => {
  it('follows queued → placing → starting → ready → stopping → stopped', () => {
    expect(canTransition('queued', 'placing')).toBe(true);
    expect(canTransition('placing', 'starting')).toBe(true);
    expect(canTransition('starting', 'ready')).toBe(true);
    expect(canTransition('ready', 'stopping')).toBe(true);
    expect(canTransition('stopping', 'stopped')).toBe(true);
  });
  it('never leaves a final state and never skips backwards', () => {
    for (const end of ['stopped', 'failed', 'lost'] as const) expect(canTransition(end, 'queued')).toBe(false);
    expect(canTransition('ready', 'starting')).toBe(false);
    expect(canTransition('queued', 'ready')).toBe(false);
  });
  it('lists where a transition may come from', () => {
    expect(sourcesOf('ready')).toEqual(['starting']);
    expect(sourcesOf('lost').sort()).toEqual(['placing', 'ready', 'starting', 'stopping']);
  });
});

describe(choosePlacement.name, () => {
  it('takes only active, reachable rigs that hold the image', () => {
    const p = choosePlacement(
      [
        rig({ id: 'a', state: 'draining' }),
        rig({ id: 'b', reachable: false }),
        rig({ id: 'c', hasImage: false }),
        rig({ id: 'd' }),
      ],
      cpuOnly,
    );
    expect(p).toEqual({ ok: true, rigId: 'd', slotIds: [] });
  });
  it('says why nothing fits: no rig, or all full', () => {
    expect(choosePlacement([rig({ id: 'a', state: 'retired' })], cpuOnly)).toEqual({
      ok: false,
      reason: 'no rig is available right now',
      retryable: true,
    });
    expect(choosePlacement([rig({ id: 'a', memoryFreeMb: 512 })], cpuOnly)).toEqual({
      ok: false,
      reason: 'all rigs are full (CPU or memory)',
      retryable: true,
    });
    expect(choosePlacement([rig({ id: 'a', cpuFreeMillis: 500 })], cpuOnly)).toMatchObject({ ok: false });
  });
  it('asks a rig to pull the image only when no rig has it', () => {
    expect(
      choosePlacement([rig({ id: 'a', hasImage: false, memoryFreeMb: 9000 }), rig({ id: 'b' })], cpuOnly),
    ).toMatchObject({ rigId: 'b' });
    expect(choosePlacement([rig({ id: 'a', hasImage: false })], cpuOnly)).toEqual({
      ok: true,
      rigId: 'a',
      slotIds: [],
    });
  });

  it("prefers the rig with the student's home, then the emptiest", () => {
    const rigs = [
      rig({ id: 'a', memoryFreeMb: 2048 }),
      rig({ id: 'b', memoryFreeMb: 6000 }),
      rig({ id: 'c', memoryFreeMb: 4000 }),
    ];
    expect(choosePlacement(rigs, cpuOnly)).toMatchObject({ rigId: 'b' });
    rigs[0].holdsHome = true;
    expect(choosePlacement(rigs, cpuOnly)).toMatchObject({ rigId: 'a' });
  });
  it('finds a GPU slot of an accepted model and driver, with enough VRAM', () => {
    const rigs = [
      rig({ id: 'amd', freeSlots: [slot('s1', 'RX 580', 'amd')] }),
      rig({ id: 'small', freeSlots: [slot('s2', 'GTX 1060', 'nvidia', 3072)] }),
      rig({ id: 'good', memoryFreeMb: 1024, freeSlots: [slot('s3', 'GTX 1070'), slot('s4', 'GTX 1070')] }),
    ];
    const p = choosePlacement(rigs, {
      cpuMillis: 1000,
      memoryMb: 1024,
      gpu: { required: true, driverKinds: ['nvidia'], minVramMb: 6000 },
    });
    expect(p).toEqual({ ok: true, rigId: 'good', slotIds: ['s3', 's4'] });
  });
  it('refuses a GPU lab when no suitable slot is free, saying so', () => {
    const unhealthy = { ...slot('s1'), healthy: false };
    expect(
      choosePlacement([rig({ id: 'a', freeSlots: [unhealthy] })], { ...cpuOnly, gpu: { required: true } }),
    ).toEqual({
      ok: false,
      reason: 'no suitable GPU is free',
      retryable: true,
      // only a GPU is missing: the launch waits in the fair GPU queue
      waitFor: 'gpu',
    });
    // A suitable GPU exists but its rig has no memory left: waiting for a GPU would not help.
    const full = choosePlacement([rig({ id: 'a', freeSlots: [slot('s1')], memoryFreeMb: 100 }), rig({ id: 'b' })], {
      ...cpuOnly,
      gpu: { required: true },
    });
    expect(full).toMatchObject({ ok: false, reason: 'all rigs with a suitable GPU are full' });
    expect(full.ok === false && full.waitFor).toBeUndefined();
  });
});

describe(slotFits.name, () => {
  const half = { ...slot('h', 'RTX 3060', 'nvidia', 12288), share: 0.5 };
  it("gives 'whole' only a slot that is the entire GPU", () => {
    expect(slotFits(slot('w'), { required: true })).toBe(true); // old rows: no mode means whole
    expect(slotFits(half, { required: true, mode: 'whole' })).toBe(false);
  });
  it("gives 'shared' a slot with enough of the GPU's memory", () => {
    expect(slotFits(half, { required: true, mode: 'shared', minVramMb: 6144 })).toBe(true);
    expect(slotFits(half, { required: true, mode: 'shared', minVramMb: 8192 })).toBe(false);
    expect(slotFits(slot('w'), { required: true, mode: 'shared', minVramMb: 4096 })).toBe(true);
  });
  it('honours models, driver kinds and health', () => {
    expect(slotFits(half, { required: true, mode: 'shared', models: ['GTX 1070'] })).toBe(false);
    expect(slotFits(half, { required: true, mode: 'shared', driverKinds: ['amd'] })).toBe(false);
    expect(slotFits({ ...half, healthy: false }, { required: true, mode: 'shared' })).toBe(false);
  });
});

describe(cullDecision.name, () => {
  const t0 = new Date('2026-11-26T10:00:00Z');
  const at = (s: number) => new Date(t0.getTime() + s * 1000);
  const base = {
    startedAt: t0,
    lastActivityAt: t0,
    busy: false,
    idleTimeoutS: 1800,
    maxAgeS: 8 * 3600,
    warnedAt: null,
    warnAheadS: 300,
  };

  it('keeps an active lab', () => expect(cullDecision({ ...base, now: at(600) })).toEqual({ action: 'keep' }));
  it('warns before stopping an idle lab, then stops it', () => {
    expect(cullDecision({ ...base, now: at(1600) })).toEqual({
      action: 'warn',
      stopAt: at(1800),
      reason: 'it was idle for 30 min',
    });
    expect(cullDecision({ ...base, now: at(1700), warnedAt: at(1600) })).toEqual({ action: 'keep' });
    expect(cullDecision({ ...base, now: at(1900), warnedAt: at(1600) })).toEqual({
      action: 'stop',
      reason: 'stopped because it was idle for 30 min',
    });
  });
  it('never stops without a warning, even when the culler comes late', () => {
    expect(cullDecision({ ...base, now: at(5000) })).toMatchObject({ action: 'warn', stopAt: at(5300) });
  });
  it('spares a busy kernel however long it runs, until the maximum age', () => {
    expect(cullDecision({ ...base, busy: true, now: at(4 * 3600) })).toEqual({ action: 'keep' });
    expect(cullDecision({ ...base, busy: true, now: at(8 * 3600 - 200) })).toMatchObject({
      action: 'warn',
      reason: 'it reached the maximum age of 8 h',
    });
    expect(cullDecision({ ...base, busy: true, now: at(8 * 3600 + 200), warnedAt: at(8 * 3600 - 200) })).toEqual({
      action: 'stop',
      reason: 'stopped because it reached the maximum age of 8 h',
    });
  });
});
