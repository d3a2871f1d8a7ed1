import type { RigCandidate, SlotCandidate } from './labs.policy';
import { placeByReliability, reliabilityWanted } from './placement.policy';

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
const slot = (slotId: string, over: Partial<SlotCandidate> = {}): SlotCandidate => ({
  slotId,
  gpuModel: 'GTX 1070',
  driverKind: 'nvidia',
  vramMb: 8192,
  share: 1,
  healthy: true,
  ...over,
});
const cpu = { cpuMillis: 1000, memoryMb: 1024, gpu: { required: false } };
const gpu = { ...cpu, gpu: { required: true } };
const none = { rigs: {}, slots: {} };

describe(reliabilityWanted.name, () => {
  it('wants reliable hardware for every GPU lab and for labs longer than the threshold', () => {
    expect(reliabilityWanted({ gpu: { required: true }, maxAgeS: 1800 }, 4)).toBe('GPU lab');
    expect(reliabilityWanted({ gpu: { required: false }, maxAgeS: 8 * 3600 }, 4)).toBe('long lab (up to 8 h)');
    expect(reliabilityWanted({ gpu: { required: false }, maxAgeS: 4 * 3600 }, 4)).toBeNull();
    expect(reliabilityWanted({ gpu: { required: false }, maxAgeS: 90 * 60 }, 1)).toBe('long lab (up to 1.5 h)');
  });
});

describe(placeByReliability.name, () => {
  it('sends a GPU lab to the more reliable rig, though the other has more room', () => {
    const rigs = [
      rig({ id: 'a', memoryFreeMb: 16000, freeSlots: [slot('a0')] }),
      rig({ id: 'b', freeSlots: [slot('b0')] }),
    ];
    const p = placeByReliability(rigs, gpu, { rigs: { a: 0.81, b: 0.98 }, slots: {} }, 'GPU lab');
    expect(p).toEqual({
      ok: true,
      rigId: 'b',
      slotIds: ['b0'],
      score: 0.98,
      usualRigId: 'a',
      why: 'GPU lab: b is among the most reliable that fit (0.980), over a (0.810) that home and load alone would pick; it has the most room',
    });
  });

  it("judges a GPU lab's rig by its best fitting GPU too, and offers that GPU first", () => {
    const rigs = [
      rig({ id: 'a', freeSlots: [slot('a0'), slot('a1')] }),
      rig({ id: 'b', memoryFreeMb: 100_000, freeSlots: [slot('b0'), slot('b1', { gpuModel: 'RX 580' })] }),
    ];
    const scores = { rigs: { a: 0.95, b: 0.99 }, slots: { a0: 0.7, a1: 0.96, b0: 0.6, b1: 1 } };
    // b's only fitting GPU (b0) is poor; b1 is good but not a GTX 1070.
    const p = placeByReliability(rigs, { ...gpu, gpu: { required: true, models: ['GTX 1070'] } }, scores, 'GPU lab');
    expect(p).toMatchObject({ ok: true, rigId: 'a', slotIds: ['a1', 'a0'], score: 0.95 });
  });

  it("keeps today's order among rigs about as reliable: the student's home, then room", () => {
    const rigs = [
      rig({ id: 'a', memoryFreeMb: 16000, freeSlots: [slot('a0')] }),
      rig({ id: 'b', holdsHome: true, freeSlots: [slot('b0')] }),
      rig({ id: 'c', memoryFreeMb: 32000, freeSlots: [slot('c0')] }),
    ];
    const close = { rigs: { a: 0.99, b: 0.96, c: 0.91 }, slots: {} };
    expect(placeByReliability(rigs, gpu, close, 'GPU lab')).toMatchObject({
      rigId: 'b',
      why: "GPU lab: b is among the most reliable that fit (0.960); it holds the student's home",
    });
    // Out of the band: the home no longer outweighs a clearly more reliable rig.
    expect(placeByReliability(rigs, gpu, { ...close, rigs: { ...close.rigs, b: 0.9 } }, 'GPU lab')).toMatchObject({
      rigId: 'a',
    });
  });

  it('treats a rig with no score yet (not judged) as reliable, and ignores scores for short CPU labs', () => {
    const rigs = [rig({ id: 'a', memoryFreeMb: 16000 }), rig({ id: 'b' })];
    expect(
      placeByReliability(rigs, cpu, { rigs: { a: null, b: 0.97 }, slots: {} }, 'long lab (up to 8 h)'),
    ).toMatchObject({
      rigId: 'a',
    });
    expect(placeByReliability(rigs, cpu, { rigs: { a: 0.5, b: 1 }, slots: {} }, null)).toEqual({
      ok: true,
      rigId: 'a',
      slotIds: [],
      score: 0.5,
      usualRigId: 'a',
      why: 'a has the most room',
    });
    expect(placeByReliability(rigs, cpu, { rigs: { a: 0.5, b: 1 }, slots: {} }, 'long lab (up to 8 h)')).toMatchObject({
      rigId: 'b',
    });
  });

  it('never trades a rig that has the image for one that must pull it, and refuses as choosePlacement does', () => {
    const rigs = [rig({ id: 'a', hasImage: false }), rig({ id: 'b' })];
    expect(placeByReliability(rigs, cpu, { rigs: { a: 1, b: 0.5 }, slots: {} }, 'long lab (up to 8 h)')).toMatchObject({
      rigId: 'b',
    });
    expect(placeByReliability([rig({ id: 'a', memoryFreeMb: 10 })], cpu, none, 'GPU lab')).toEqual({
      ok: false,
      reason: 'all rigs are full (CPU or memory)',
      retryable: true,
    });
    expect(placeByReliability([rig({ id: 'a' })], gpu, none, 'GPU lab')).toEqual({
      ok: false,
      reason: 'no suitable GPU is free',
      retryable: true,
      waitFor: 'gpu',
    });
  });
});
