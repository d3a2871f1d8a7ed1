import type { GpuSample, RigSample } from '../../../../spawner/src/probes/sample';
import { amdRenderNode, capacityOf, driverKindOf, gpusToRegister, inventoryOf } from './rig-inventory.policy';

const gpu = (over: Partial<GpuSample>): GpuSample => ({
  index: 0,
  id: 'GPU-6e2f1a4c-0b3d-4d5e-9f70-1a2b3c4d5e6f',
  model: 'NVIDIA GeForce GTX 1070',
  driver: 'nvidia',
  driverVersion: '535.183.01',
  pciBusId: '00000000:01:00.0',
  temperatureC: 41,
  fanPercent: 30,
  fanRpm: null,
  powerW: 9.5,
  powerLimitW: 151,
  memoryUsedMb: 0,
  memoryTotalMb: 8192,
  utilizationPercent: 0,
  smClockMhz: 139,
  memoryClockMhz: 405,
  throttleReasons: [],
  pcieGen: 1,
  pcieGenMax: 3,
  pcieWidth: 1,
  pcieWidthMax: 16,
  pcieReplays: 0,
  xids: [],
  ...over,
});

const sample = (over: Partial<RigSample> = {}): RigSample => ({
  at: '2026-12-03T10:00:00.000Z',
  load1: 0.2,
  cpus: 6,
  memoryTotalMb: 15_900,
  memoryAvailableMb: 12_000,
  diskTotalMb: 100_000,
  diskFreeMb: 60_000,
  gpus: [],
  sensors: [],
  notAvailable: [{ source: 'nvidia-smi', why: 'not installed on this rig' }],
  ...over,
});

const AT = new Date('2026-12-03T10:00:01Z');

describe('inventoryOf', () => {
  it("takes CPUs, memory and Docker from the engine and disk and GPUs from the probe's sample", () => {
    const inv = inventoryOf(
      {
        ServerVersion: '26.1.5',
        NCPU: 8,
        MemTotal: 16 * 1024 * 1024 * 1024,
        DockerRootDir: '/var/lib/docker',
        OperatingSystem: 'Debian GNU/Linux 12 (bookworm)',
        Runtimes: { runc: {}, nvidia: {} },
      },
      sample({ gpus: [gpu({ index: 1 }), gpu({})] }),
      null,
      AT,
    );
    expect(inv).toMatchObject({
      discoveredAt: '2026-12-03T10:00:01.000Z',
      engine: { version: '26.1.5', dockerRootDir: '/var/lib/docker', runtimes: ['nvidia', 'runc'] },
      cpus: 8,
      memoryMb: 16_384,
      diskTotalMb: 100_000,
      diskFreeMb: 60_000,
      notAvailable: [{ source: 'nvidia-smi', why: 'not installed on this rig' }],
    });
    expect(inv.gpus.map((g) => [g.index, g.vramMb, g.pcieWidth, g.pcieWidthMax, g.deviceIds])).toEqual([
      [0, 8192, 1, 16, ['GPU-6e2f1a4c-0b3d-4d5e-9f70-1a2b3c4d5e6f']],
      [1, 8192, 1, 16, ['GPU-6e2f1a4c-0b3d-4d5e-9f70-1a2b3c4d5e6f']],
    ]);
  });

  it("keeps the engine's figures when the probe failed, and says why disk and GPUs are missing", () => {
    const inv = inventoryOf({ ServerVersion: '27.0.1', NCPU: 2, MemTotal: 4 * 1024 ** 3 }, null, 'image missing', AT);
    expect(inv).toMatchObject({ cpus: 2, memoryMb: 4096, diskTotalMb: null, gpus: [] });
    expect(inv.notAvailable).toEqual([{ source: 'telemetry probe', why: 'image missing' }]);
  });

  it('hands an AMD card to containers by its render node', () => {
    const inv = inventoryOf(
      { NCPU: 4 },
      sample({ gpus: [gpu({ index: 2, driver: 'amd', id: '0000:03:00.0' })] }),
      null,
      AT,
    );
    expect(inv.gpus[0].deviceIds).toEqual(['/dev/dri/renderD130']);
    expect(amdRenderNode(0)).toBe('/dev/dri/renderD128');
  });
});

describe('capacityOf', () => {
  const reserve = { cpus: 1, memoryMb: 1024 };
  it('gives labs what was discovered less the host reserve, unless the admin said otherwise', () => {
    expect(capacityOf({}, { cpus: 8, memoryMb: 16_384 }, reserve)).toEqual({ cpus: 7, memoryMb: 15_360 });
    expect(capacityOf({ cpus: 4 }, { cpus: 8, memoryMb: 16_384 }, reserve)).toEqual({ cpus: 4, memoryMb: 15_360 });
  });
  it('never goes below one CPU and 256 MiB, and knows nothing when nothing was discovered', () => {
    expect(capacityOf({}, { cpus: 1, memoryMb: 900 }, reserve)).toEqual({ cpus: 1, memoryMb: 256 });
    expect(capacityOf({}, null, reserve)).toEqual({ cpus: null, memoryMb: null });
  });
});

describe('gpusToRegister', () => {
  const inv = inventoryOf(
    {},
    sample({
      gpus: [
        gpu({ index: 0, model: null }),
        gpu({ index: 1, memoryTotalMb: null }),
        gpu({ index: 2, driver: 'amd', model: 'Radeon RX 580' }),
      ],
    }),
    null,
    AT,
  );
  it('registers each new GPU with a model name, and leaves out one whose VRAM is unknown, saying why', () => {
    expect(gpusToRegister(inv, [])).toEqual([
      { ok: true, index: 0, model: 'NVIDIA GPU', vramMb: 8192, driver: 'nvidia', deviceIds: [inv.gpus[0].id] },
      { ok: false, index: 1, why: 'GPU 1: its VRAM is not reported, so it is not registered' },
      { ok: true, index: 2, model: 'Radeon RX 580', vramMb: 8192, driver: 'amd', deviceIds: ['/dev/dri/renderD130'] },
    ]);
  });
  it('skips GPUs already registered (a re-discovery adds only new ones)', () => {
    expect(gpusToRegister(inv, [0, 2]).map((p) => p.index)).toEqual([1]);
  });
  it('picks the driver kind from what was found', () => {
    expect(driverKindOf(inv)).toBe('nvidia');
    expect(driverKindOf({ gpus: [inv.gpus[2]] })).toBe('amd');
    expect(driverKindOf(null)).toBe('none');
  });
});
