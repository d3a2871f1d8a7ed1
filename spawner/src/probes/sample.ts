/**
 * What one telemetry probe of a rig reports (issue 9). Produced by the probe container's output
 * parsers (spawner/src/probes), consumed by health rules and storage in api/. Every reading is
 * `null` when the hardware or its tools do not offer it — normal on mining boards, never an error;
 * `notAvailable` says which sources were missing and why, in plain words.
 */
export interface GpuSample {
  /** Index as the driver numbers it (nvidia-smi index, or the DRM card number for AMD). */
  index: number;
  /** NVIDIA GPU UUID, or the PCI bus id for AMD; stable across reboots. */
  id: string;
  model: string | null;
  driver: 'nvidia' | 'amd';
  driverVersion: string | null;
  pciBusId: string | null;
  temperatureC: number | null;
  /** Fan speed as the driver reports it: percent of maximum (NVIDIA) ... */
  fanPercent: number | null;
  /** ... or revolutions per minute (AMD hwmon). */
  fanRpm: number | null;
  powerW: number | null;
  powerLimitW: number | null;
  memoryUsedMb: number | null;
  memoryTotalMb: number | null;
  utilizationPercent: number | null;
  smClockMhz: number | null;
  memoryClockMhz: number | null;
  /** Active clock-throttle reasons by name (e.g. 'hw_thermal_slowdown'); [] when none; null when unknown. */
  throttleReasons: string[] | null;
  pcieGen: number | null;
  pcieGenMax: number | null;
  pcieWidth: number | null;
  pcieWidthMax: number | null;
  /** PCIe replay counter (rises on a failing riser). */
  pcieReplays: number | null;
  /** Xid error codes seen since the previous probe (from the kernel log, where readable). */
  xids: number[] | null;
  /** The card's own slowdown threshold (°C) where the driver reports one in absolute degrees. */
  slowdownTempC?: number | null;
}

export interface SensorReading {
  /** hwmon chip or IPMI sensor name, e.g. 'k10temp', 'nct6775', 'CPU Temp'. */
  source: string;
  label: string;
  kind: 'temperature' | 'fan' | 'power' | 'voltage' | 'other';
  value: number | null;
  unit: string;
  /** IPMI's status column ('ok', 'cr', 'nr', 'ns'...) where there is one. */
  status?: string;
}

export interface RigSample {
  at: string;
  /** 1-minute load average of the rig. */
  load1: number | null;
  cpus: number | null;
  memoryTotalMb: number | null;
  memoryAvailableMb: number | null;
  /** The engine's data root (where images and containers live). */
  diskTotalMb: number | null;
  diskFreeMb: number | null;
  gpus: GpuSample[];
  /** Board sensors from /sys/class/hwmon, and from `ipmitool sdr` where a BMC exists. */
  sensors: SensorReading[];
  /** Sources that were missing, with why: { source: 'nvidia-smi', why: 'not installed on this rig' }. */
  notAvailable: Array<{ source: string; why: string }>;
  /** Where the kernel log was read up to, so that the next probe reports only Xids newer than these. */
  kernelLog?: { bootId: string | null; untilS: number | null } | null;
}
