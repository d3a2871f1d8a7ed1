import type { GpuSample } from '../sample';
import { num, round } from './errors';
import { sysfsValues } from './sysfs';

/** PCIe generation from a link speed ("8.0 GT/s PCIe", older kernels "8 GT/s"). */
export function pcieGenOf(speed: string | undefined): number | null {
  const gts = num(/^([\d.]+)\s*GT\/s/.exec(speed?.trim() ?? '')?.[1]);
  if (gts == null) return null;
  const gens: Array<[number, number]> = [
    [2.5, 1],
    [5, 2],
    [8, 3],
    [16, 4],
    [32, 5],
    [64, 6],
  ];
  return gens.find(([g]) => Math.abs(g - gts) < 0.01)?.[1] ?? null;
}

const MIB = 1024 * 1024;

/**
 * amdgpu's sysfs files under /sys/class/drm/cardN/device, as `grep .` prints them, → one GpuSample
 * per card. Units as the kernel documents them (Documentation/gpu/amdgpu/thermal.rst): hwmon
 * temperatures in millidegrees Celsius, power in microwatts, fan in RPM; VRAM in bytes.
 */
export function parseAmdSysfs(lines: string[]): GpuSample[] {
  const values = sysfsValues(lines);
  const cards = new Map<number, Map<string, string>>();
  for (const [path, value] of values) {
    const m = /\/card(\d+)\/device\/(.+)$/.exec(path);
    if (!m) continue;
    const card = Number(m[1]);
    if (!cards.has(card)) cards.set(card, new Map());
    // hwmon/hwmon3/temp1_input → temp1_input: each card has one hwmon directory.
    cards.get(card)!.set(m[2].replace(/^hwmon\/hwmon\d+\//, ''), value);
  }
  return [...cards.entries()]
    .sort(([a], [b]) => a - b)
    .map(([index, f]) => {
      const pciBusId = f.get('uevent#PCI_SLOT_NAME') ?? null;
      const device = f.get('device') ?? f.get('uevent#PCI_ID')?.split(':')[1];
      const temp = num(f.get('temp1_input'));
      const power = num(f.get('power1_average'));
      const cap = num(f.get('power1_cap'));
      const vramUsed = num(f.get('mem_info_vram_used'));
      const vramTotal = num(f.get('mem_info_vram_total'));
      return {
        index,
        id: pciBusId ?? `amd:card${index}`,
        // The kernel offers the PCI device id, not a marketing name; naming it is the reader's job.
        model: device ? `AMD GPU ${device.replace(/^0x/, '').toLowerCase()}` : null,
        driver: 'amd',
        driverVersion: null,
        pciBusId,
        temperatureC: temp == null ? null : round(temp / 1000, 1),
        fanPercent: null,
        fanRpm: num(f.get('fan1_input')),
        powerW: power == null ? null : round(power / 1e6, 2),
        powerLimitW: cap == null ? null : round(cap / 1e6, 2),
        memoryUsedMb: vramUsed == null ? null : round(vramUsed / MIB, 0),
        memoryTotalMb: vramTotal == null ? null : round(vramTotal / MIB, 0),
        utilizationPercent: num(f.get('gpu_busy_percent')),
        smClockMhz: null,
        memoryClockMhz: null,
        throttleReasons: null,
        pcieGen: pcieGenOf(f.get('current_link_speed')),
        pcieGenMax: pcieGenOf(f.get('max_link_speed')),
        pcieWidth: num(f.get('current_link_width')),
        pcieWidthMax: num(f.get('max_link_width')),
        // amdgpu's pcie_replay_count (kernel 5.2+); not every ASIC implements it (Navi reads 0).
        pcieReplays: num(f.get('pcie_replay_count')),
        xids: null,
        slowdownTempC: null,
      } satisfies GpuSample;
    });
}
