import type { GpuSample } from '../sample';
import { num, round, TelemetryParseError } from './errors';

/**
 * What nvidia-smi prints instead of a value when the board or driver cannot tell: brackets from
 * driver 418 on, bare "N/A" in some older drivers and in nounits mode.
 */
const NOT_A_VALUE =
  /^\[?(N\/A|Not Supported|Unknown Error|Insufficient Permissions|GPU is lost|Requested functionality has been deprecated)\]?$/i;

/** Bits of `clocks_throttle_reasons.active` (nvml.h nvmlClocksThrottleReason*), by the names riglab uses. */
const THROTTLE_BITS: Array<[number, string]> = [
  [0x1, 'gpu_idle'],
  [0x2, 'applications_clocks_setting'],
  [0x4, 'sw_power_cap'],
  [0x8, 'hw_slowdown'],
  [0x10, 'sync_boost'],
  [0x20, 'sw_thermal_slowdown'],
  [0x40, 'hw_thermal_slowdown'],
  [0x80, 'hw_power_brake_slowdown'],
  [0x100, 'display_clock_setting'],
];
const THROTTLE_NAMES = new Set(THROTTLE_BITS.map(([, name]) => name));

/** Query field names as nvidia-smi accepts them (long and short forms) → one canonical name. */
const ALIASES: Record<string, string> = {
  gpu_name: 'name',
  gpu_uuid: 'uuid',
  gpu_bus_id: 'pci.bus_id',
  'clocks.current.sm': 'clocks.sm',
  'clocks.current.memory': 'clocks.mem',
  'clocks.current.graphics': 'clocks.gr',
  'enforced.power.limit': 'power.limit',
  'pcie.link.gen.gpucurrent': 'pcie.link.gen.current',
  'pcie.link.gen.gpumax': 'pcie.link.gen.max',
  'clocks_event_reasons.active': 'clocks_throttle_reasons.active',
};
const canonical = (field: string) => {
  const f = field.trim().toLowerCase();
  return ALIASES[f] ?? f.replace(/^clocks_event_reasons\./, 'clocks_throttle_reasons.');
};

/** A cell without its unit ("52 %", "176.98 W", "7979 MiB", "1965 MHz"); null when nvidia-smi had no value. */
function cell(raw: string | undefined): string | null {
  if (raw == null) return null;
  const t = raw.trim();
  if (t === '' || NOT_A_VALUE.test(t)) return null;
  return t.replace(/\s*(%|W|MiB|MHz|C)$/, '');
}

function throttle(row: Map<string, string | null>): string[] | null {
  const mask = row.get('clocks_throttle_reasons.active');
  if (mask != null) {
    if (!/^0x[0-9a-f]+$/i.test(mask)) return null;
    const bits = BigInt(mask);
    return THROTTLE_BITS.filter(([bit]) => (bits & BigInt(bit)) !== 0n).map(([, name]) => name);
  }
  // The per-reason fields ("clocks_throttle_reasons.hw_slowdown" = "Active" / "Not Active").
  const named = [...row.entries()].filter(([k]) => k.startsWith('clocks_throttle_reasons.'));
  if (named.length === 0 || named.every(([, v]) => v == null)) return null;
  return named
    .filter(([k, v]) => v === 'Active' && THROTTLE_NAMES.has(k.slice('clocks_throttle_reasons.'.length)))
    .map(([k]) => k.slice('clocks_throttle_reasons.'.length));
}

/**
 * `nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits]` → one GpuSample per line. Columns
 * are found by header name (units in brackets stripped), so any field order works; for `noheader`
 * output pass the queried `fields` in order. Fields not queried are null.
 */
export function parseNvidiaSmiCsv(text: string, opts: { fields?: string[] } = {}): GpuSample[] {
  const lines = text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('@@riglab '));
  let fields: string[];
  if (opts.fields) fields = opts.fields.map(canonical);
  else {
    const header = lines.shift() ?? '';
    // A header is field names ("index, name, power.draw [W]"): no digits-only cells, a dot or underscore in most.
    if (!/^[a-z_.]+( \[[^\]]+\])?(, [a-z_.]+( \[[^\]]+\])?)*$/i.test(header.trim()))
      throw new TelemetryParseError(
        'nvidia-smi',
        `expected a CSV header of query fields, got '${header.slice(0, 160)}'`,
      );
    fields = header.split(',').map((h) => canonical(h.replace(/\[[^\]]*\]/, '')));
  }
  return lines.map((line, n) => {
    const cells = line.split(',');
    if (cells.length !== fields.length)
      throw new TelemetryParseError(
        'nvidia-smi',
        `line ${n + 1} has ${cells.length} values for ${fields.length} fields: '${line.slice(0, 160)}'`,
      );
    const row = new Map(fields.map((f, i) => [f, cell(cells[i])] as const));
    const str = (f: string) => row.get(f) ?? null;
    const int = (f: string) => {
      const v = num(str(f));
      return v == null ? null : Math.round(v);
    };
    const index = int('index') ?? n;
    const uuid = str('uuid');
    const pciBusId = str('pci.bus_id');
    return {
      index,
      id: uuid ?? pciBusId ?? `nvidia:${index}`,
      model: str('name'),
      driver: 'nvidia',
      driverVersion: str('driver_version'),
      pciBusId,
      temperatureC: num(str('temperature.gpu')),
      fanPercent: num(str('fan.speed')),
      fanRpm: null,
      powerW: round(num(str('power.draw')), 2),
      powerLimitW: round(num(str('power.limit')), 2),
      memoryUsedMb: num(str('memory.used')),
      memoryTotalMb: num(str('memory.total')),
      utilizationPercent: num(str('utilization.gpu')),
      smClockMhz: num(str('clocks.sm')) ?? num(str('clocks.gr')),
      memoryClockMhz: num(str('clocks.mem')),
      throttleReasons: throttle(row),
      pcieGen: int('pcie.link.gen.current'),
      pcieGenMax: int('pcie.link.gen.max'),
      pcieWidth: int('pcie.link.width.current'),
      pcieWidthMax: int('pcie.link.width.max'),
      // Not in --query-gpu: merged from `nvidia-smi -q` and the kernel log by parseProbeOutput.
      pcieReplays: null,
      xids: null,
      slowdownTempC: null,
    } satisfies GpuSample;
  });
}
