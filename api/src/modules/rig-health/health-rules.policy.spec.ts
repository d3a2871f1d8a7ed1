import type { GpuSample, RigSample } from '../../../../spawner/src/probes/sample';
import {
  belowFloor,
  cleanFor,
  DEFAULT_SLOWDOWN_C,
  evaluateSample,
  HealthSettings,
  reliability,
  RuleContext,
  slowdownOf,
} from './health-rules.policy';

const settings: HealthSettings = { slowdownC: { 'RTX 3060': 88 }, diskMinFreePercent: 5, probeFailuresToDrain: 3 };
const gpu = (over: Partial<GpuSample> = {}): GpuSample => ({
  index: 0,
  id: 'GPU-0',
  model: 'GTX 1070',
  driver: 'nvidia',
  driverVersion: '535.1',
  pciBusId: '00000000:01:00.0',
  temperatureC: 60,
  fanPercent: 40,
  fanRpm: null,
  powerW: 100,
  powerLimitW: 150,
  memoryUsedMb: 100,
  memoryTotalMb: 8192,
  utilizationPercent: 10,
  smClockMhz: 1500,
  memoryClockMhz: 4000,
  throttleReasons: [],
  pcieGen: 1,
  pcieGenMax: 3,
  pcieWidth: 1,
  pcieWidthMax: 1,
  pcieReplays: 0,
  xids: [],
  ...over,
});
const sample = (gpus: GpuSample[], over: Partial<RigSample> = {}): RigSample => ({
  at: '2026-12-03T12:00:00Z',
  load1: 1,
  cpus: 4,
  memoryTotalMb: 8192,
  memoryAvailableMb: 4096,
  diskTotalMb: 100_000,
  diskFreeMb: 50_000,
  gpus,
  sensors: [],
  notAvailable: [],
  ...over,
});
const ok: RuleContext = { previous: null, probeFailuresInARow: 0, engineReachable: true };

/** Replays samples in order, as the service does, and returns the rules that fired at each step. */
const replay = (samples: RigSample[]) =>
  samples.map((s, i) => evaluateSample(s, { ...ok, previous: samples[i - 1] ?? null }, settings).map((f) => f.rule));

describe('health rules', () => {
  it('finds nothing in a healthy sample, nor in one with every reading missing', () => {
    expect(evaluateSample(sample([gpu()]), ok, settings)).toEqual([]);
    const blank = gpu({
      temperatureC: null,
      fanPercent: null,
      pcieWidth: null,
      pcieReplays: null,
      xids: null,
      model: null,
    });
    expect(evaluateSample(sample([blank], { diskFreeMb: null, diskTotalMb: null }), ok, settings)).toEqual([]);
  });

  it('uses the model table, overrides, and a conservative default for unknown models', () => {
    expect(slowdownOf('GTX 1070', settings)).toBe(94);
    expect(slowdownOf('RTX 3060', settings)).toBe(88);
    expect(slowdownOf('Mystery 9000', settings)).toBe(DEFAULT_SLOWDOWN_C);
    expect(replay([sample([gpu({ model: 'Mystery 9000', temperatureC: 86 })])])).toEqual([['temperature']]);
  });

  it("prefers the card's own slowdown threshold from `nvidia-smi -q` over the table", () => {
    // A GTX 1070 whose vBIOS says 90 °C: 91 °C is hot although the table's 94 °C is not reached.
    expect(replay([sample([gpu({ model: 'GTX 1070', temperatureC: 91, slowdownTempC: 90 })])])).toEqual([
      ['temperature'],
    ]);
    expect(replay([sample([gpu({ model: 'GTX 1070', temperatureC: 91 })])])).toEqual([[]]);
  });

  it('replays a card heating up, losing its fan, and cooling again', () => {
    const temps: Array<[number, number]> = [
      [70, 50],
      [90, 70],
      [95, 80],
      [80, 0],
      [50, 0],
    ];
    expect(replay(temps.map(([t, fan]) => sample([gpu({ temperatureC: t, fanPercent: fan })])))).toEqual([
      [],
      [],
      ['temperature'],
      ['fan-stopped'],
      [], // zero-RPM mode on a cool card
    ]);
  });

  it('quarantines on critical Xids only, ignoring application faults', () => {
    expect(replay([sample([gpu({ xids: [13, 31, 43] })]), sample([gpu({ xids: [13, 79] })])])).toEqual([[], ['xid']]);
    expect(evaluateSample(sample([gpu({ index: 2, xids: [79, 79] })]), ok, settings)[0]).toEqual({
      kind: 'quarantine-gpu',
      gpuIndex: 2,
      rule: 'xid',
      why: 'GPU 2 reported critical Xid error(s) 79',
    });
  });

  it('flags a narrowed PCIe link, and a replay counter only while it rises', () => {
    expect(
      replay([
        sample([gpu({ pcieReplays: 10 })]),
        sample([gpu({ pcieReplays: 10 })]),
        sample([gpu({ pcieReplays: 14 })]),
        sample([gpu({ pcieReplays: 14, pcieWidth: 8, pcieWidthMax: 16 })]),
      ]),
    ).toEqual([[], [], ['pcie-replays'], ['pcie-width']]);
  });

  it('drains a rig whose disk is nearly full, whose engine is gone, or whose probe keeps failing', () => {
    expect(replay([sample([], { diskFreeMb: 4_000 })])).toEqual([['disk-full']]);
    expect(evaluateSample(null, { ...ok, engineReachable: false }, settings).map((f) => f.kind)).toEqual(['drain-rig']);
    expect(evaluateSample(null, { ...ok, probeFailuresInARow: 2 }, settings)).toEqual([]);
    expect(evaluateSample(null, { ...ok, probeFailuresInARow: 3 }, settings)).toEqual([
      { kind: 'drain-rig', rule: 'probe-failing', why: 'the telemetry probe failed 3 times in a row' },
    ]);
  });

  it('lets a fault clear only after a whole clean window', () => {
    const now = new Date('2026-12-03T12:00:00Z');
    expect(cleanFor(null, now, 60_000)).toBe(true);
    expect(cleanFor(new Date('2026-12-03T11:59:30Z'), now, 60_000)).toBe(false);
    expect(cleanFor(new Date('2026-12-03T11:59:00Z'), now, 60_000)).toBe(true);
  });
});

describe('reliability', () => {
  const week = 7 * 86_400_000;
  it('scores a clean rig 1 and a flaky one below the floor', () => {
    expect(reliability({ windowMs: week, downMs: 0, launches: 50, failedLaunches: 0, faults: 0 })).toEqual({
      availability: 1,
      launchSuccess: 1,
      faultsPerDay: 0,
      score: 1,
    });
    const flaky = reliability({ windowMs: week, downMs: week / 10, launches: 40, failedLaunches: 4, faults: 7 });
    expect(flaky).toEqual({ availability: 0.9, launchSuccess: 0.9, faultsPerDay: 1, score: 0.76 });
    expect(belowFloor(flaky)).toBe(true);
    expect(
      belowFloor(reliability({ windowMs: week, downMs: week / 20, launches: 0, failedLaunches: 0, faults: 0 })),
    ).toBe(false);
  });
  it('never goes below 0 or above 1', () => {
    const r = reliability({
      windowMs: 86_400_000,
      downMs: 2 * 86_400_000,
      launches: 1,
      failedLaunches: 3,
      faults: 100,
    });
    expect([r.availability, r.launchSuccess, r.score]).toEqual([0, 0, 0]);
  });
});
