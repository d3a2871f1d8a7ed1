import { parseAmdSysfs, pcieGenOf } from './amd-sysfs';
import { fixtureLines } from './fixtures';

describe('parseAmdSysfs', () => {
  it('converts millidegrees, microwatts and RPM from an amdgpu hwmon', () => {
    const [gpu] = parseAmdSysfs(fixtureLines('amd/amdgpu-pci-1e00-assembled.txt'));
    expect(gpu).toMatchObject({
      index: 0,
      id: '0000:1e:00.0',
      pciBusId: '0000:1e:00.0',
      driver: 'amd',
      temperatureC: 57,
      fanRpm: 676,
      fanPercent: null,
      powerW: 18,
      powerLimitW: 220,
      memoryTotalMb: null,
      utilizationPercent: null,
    });
  });

  it('leaves everything but what the card offers null', () => {
    const [gpu] = parseAmdSysfs(fixtureLines('amd/amdgpu-card0-hwmon4-power-assembled.txt'));
    expect(gpu).toMatchObject({ id: 'amd:card0', powerW: 9.1, temperatureC: null, fanRpm: null, pcieGen: null });
  });

  it('reads the link generation and width from the link speed files', () => {
    const [gpu] = parseAmdSysfs(fixtureLines('amd/amdgpu-0000-03-00-link-assembled.txt'));
    expect(gpu).toMatchObject({ index: 1, pcieGen: 5, pcieGenMax: 5, pcieWidth: 16, pcieWidthMax: 16 });
    expect(pcieGenOf('8 GT/s')).toBe(3);
    expect(pcieGenOf('2.5 GT/s PCIe')).toBe(1);
    expect(pcieGenOf('Unknown')).toBeNull();
  });

  it('reads VRAM in bytes and the busy percent, one sample per card in card order', () => {
    const lines = [
      '/sys/class/drm/card2/device/mem_info_vram_total:8589934592',
      '/sys/class/drm/card2/device/mem_info_vram_used:1073741824',
      '/sys/class/drm/card2/device/gpu_busy_percent:97',
      '/sys/class/drm/card0/device/device:0x67DF',
    ];
    const gpus = parseAmdSysfs(lines);
    expect(gpus.map((g) => g.index)).toEqual([0, 2]);
    expect(gpus[0].model).toBe('AMD GPU 67df');
    expect(gpus[1]).toMatchObject({ memoryTotalMb: 8192, memoryUsedMb: 1024, utilizationPercent: 97 });
  });
});
