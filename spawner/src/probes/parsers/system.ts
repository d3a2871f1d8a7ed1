import { num, round, TelemetryParseError } from './errors';

/** `/proc/loadavg`: "0.52 0.58 0.59 2/1187 31337" — the 1-minute load. */
export function parseLoadavg(lines: string[]): number {
  const load1 = num(lines[0]?.trim().split(/\s+/)[0]);
  if (load1 == null)
    throw new TelemetryParseError('loadavg', `expected "1m 5m 15m running/total lastpid", got '${lines[0] ?? ''}'`);
  return load1;
}

/** `nproc`: one positive integer. */
export function parseNproc(lines: string[]): number {
  const n = num(lines[0]);
  if (n == null || !Number.isInteger(n) || n < 1)
    throw new TelemetryParseError('nproc', `expected a CPU count, got '${lines[0] ?? ''}'`);
  return n;
}

/** `/proc/meminfo`: "MemTotal:  16303944 kB" lines; MemAvailable exists since Linux 3.14. */
export function parseMeminfo(lines: string[]): { memoryTotalMb: number; memoryAvailableMb: number | null } {
  const kb = new Map<string, number>();
  for (const line of lines) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)(?:\s+kB)?$/.exec(line.trim());
    if (m) kb.set(m[1], Number(m[2]));
  }
  const total = kb.get('MemTotal');
  if (total == null) throw new TelemetryParseError('meminfo', 'no MemTotal line');
  const available = kb.get('MemAvailable');
  return {
    memoryTotalMb: round(total / 1024, 0)!,
    memoryAvailableMb: available == null ? null : round(available / 1024, 0),
  };
}

/**
 * `df -P -k PATH`: a header, then "Filesystem 1024-blocks Used Available Capacity Mounted-on".
 * POSIX mode keeps each filesystem on one line; the filesystem name may hold spaces, so the
 * numbers are read from the right.
 */
export function parseDf(lines: string[]): { diskTotalMb: number; diskFreeMb: number } {
  const header = lines[0] ?? '';
  if (!/^Filesystem\s+1024-blocks\s+Used\s+Available/i.test(header.trim()))
    throw new TelemetryParseError('df', `expected the header of 'df -P -k', got '${header}'`);
  const row = lines[1];
  const m = row ? /\s(\d+)\s+(\d+)\s+(\d+)\s+\d+%\s+\S.*$/.exec(row) : null;
  if (!m) throw new TelemetryParseError('df', `expected one filesystem line after the header, got '${row ?? ''}'`);
  return { diskTotalMb: round(Number(m[1]) / 1024, 0)!, diskFreeMb: round(Number(m[3]) / 1024, 0)! };
}
