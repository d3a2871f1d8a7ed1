import type { GpuSample, RigSample, SensorReading } from '../sample';
import { parseAmdSysfs } from './amd-sysfs';
import { TelemetryParseError } from './errors';
import { parseHwmon } from './hwmon';
import { parseIpmitoolSdr } from './ipmitool';
import { KernelLog, newXids, parseKernelLog } from './kernel-log';
import { parseNvidiaSmiCsv } from './nvidia-smi';
import { parseNvidiaSmiQuery, pciKey } from './nvidia-smi-q';
import { splitSections } from './sections';
import { parseDf, parseLoadavg, parseMeminfo, parseNproc } from './system';

export { parseAmdSysfs, pcieGenOf } from './amd-sysfs';
export { TelemetryParseError } from './errors';
export { parseHwmon } from './hwmon';
export { parseIpmitoolSdr } from './ipmitool';
export { parseNvidiaSmiCsv } from './nvidia-smi';
export { parseNvidiaSmiQuery, pciKey, slowdownOfLine } from './nvidia-smi-q';
export { newXids, parseKernelLog, parseXidLines } from './kernel-log';
export type { KernelLog, XidEvent } from './kernel-log';
export { splitSections } from './sections';
export { parseDf, parseLoadavg, parseMeminfo, parseNproc } from './system';

/**
 * The whole probe output → RigSample. A section that cannot be read does not sink the sample: its
 * readings stay null and `notAvailable` says why, as a missing tool would. Only output that is not
 * from the probe at all throws (TelemetryParseError).
 * `previousKernelLog` is where the previous sample of this rig read the kernel log up to: only
 * Xids after it are reported (after a reboot, all of them).
 */
export function parseProbeOutput(
  output: string,
  at: string = new Date().toISOString(),
  previousKernelLog: Pick<KernelLog, 'bootId' | 'untilS'> | null = null,
): RigSample {
  const { sections, missing, complete } = splitSections(output);
  const notAvailable = [...missing];
  const read = <T>(source: string, fn: (lines: string[]) => T): T | null => {
    const lines = sections.get(source);
    if (!lines) return null;
    try {
      return fn(lines);
    } catch (err) {
      const why = err instanceof TelemetryParseError ? err.message.replace(`${source}: `, '') : String(err);
      notAvailable.push({ source, why: `unreadable output: ${why}` });
      return null;
    }
  };
  /** A tool's section ends with its exit status: a failure becomes the reason, from its first line. */
  const tool =
    <T>(source: string, parse: (body: string[]) => T) =>
    (lines: string[]): T => {
      const exit = lines.find((l) => l.startsWith('@@riglab exit '));
      const code = exit ? Number(exit.slice('@@riglab exit '.length)) : 0;
      const body = lines.filter((l) => !l.startsWith('@@riglab '));
      if (code !== 0) throw new TelemetryParseError(source, `exited with ${code}: ${body[0] ?? 'no message'}`);
      return parse(body);
    };
  const mem = read('meminfo', parseMeminfo);
  const df = read('df', parseDf);
  const gpus: GpuSample[] = [
    // nvidia-smi says why it failed on its first line ("NVIDIA-SMI has failed because ...").
    ...(read(
      'nvidia-smi',
      tool('nvidia-smi', (body) => parseNvidiaSmiCsv(body.join('\n'))),
    ) ?? []),
    ...(read('amd', parseAmdSysfs) ?? []),
  ];
  // `nvidia-smi -q` adds the replay counter and the card's slowdown threshold, matched by PCI address.
  const reports = new Map((read('nvidia-smi-q', parseNvidiaSmiQuery) ?? []).map((r) => [r.pci, r]));
  const kernel = read('kernel', parseKernelLog);
  const fresh = kernel ? newXids(kernel, previousKernelLog) : null;
  for (const g of gpus) {
    const key = pciKey(g.pciBusId);
    const report = key ? reports.get(key) : undefined;
    if (report && g.driver === 'nvidia') {
      g.pcieReplays = report.replays;
      g.slowdownTempC = report.slowdownTempC;
    }
    // An Xid names its GPU by PCI address; a log that was read and holds none for this GPU means "no Xids".
    if (fresh && g.driver === 'nvidia') g.xids = fresh.filter((x) => x.pci === key).map((x) => x.code);
  }
  const sensors: SensorReading[] = [
    ...(read('hwmon', parseHwmon) ?? []),
    ...(read('ipmitool', tool('ipmitool', parseIpmitoolSdr)) ?? []),
  ];
  if (!complete)
    notAvailable.push({ source: 'probe', why: 'the probe stopped before its end (cut off by its time budget)' });
  return {
    at,
    load1: read('loadavg', parseLoadavg),
    cpus: read('nproc', parseNproc),
    memoryTotalMb: mem?.memoryTotalMb ?? null,
    memoryAvailableMb: mem?.memoryAvailableMb ?? null,
    diskTotalMb: df?.diskTotalMb ?? null,
    diskFreeMb: df?.diskFreeMb ?? null,
    gpus,
    sensors,
    notAvailable,
    kernelLog: kernel ? { bootId: kernel.bootId, untilS: kernel.untilS ?? previousKernelLog?.untilS ?? null } : null,
  };
}
