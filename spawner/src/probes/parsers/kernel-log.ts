import { pciKey } from './nvidia-smi-q';

/**
 * NVIDIA Xid errors from the rig's kernel log, as the probe prints them: the boot id, the kernel
 * log's last timestamp, and the `NVRM: Xid` lines of `dmesg`. Xid lines look like
 *   [24128.828315] NVRM: Xid (PCI:0000:01:00): 32, Channel ID 00000000 intr 00004000
 * (or with a `dmesg -T` date, or a journal `kernel:` prefix, which carry no uptime). Which Xids
 * matter and which are application faults is the health rules' business, not the parser's.
 */
export interface XidEvent {
  /** Seconds since boot from the dmesg stamp; null when the line carries none (journal, -T). */
  uptimeS: number | null;
  /** GPU address, normalised by pciKey. */
  pci: string;
  code: number;
  text: string;
}

export interface KernelLog {
  bootId: string | null;
  /** The newest dmesg stamp seen, so the next probe can tell old Xids from new ones. */
  untilS: number | null;
  xids: XidEvent[];
}

const XID = /NVRM: Xid \(((?:PCI:)?[0-9a-fA-F]{1,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}(?:\.[0-7])?)\): (\d+),?\s*(.*)$/;
const STAMP = /^\[\s*(\d+(?:\.\d+)?)\]/;

export function parseXidLines(lines: string[]): XidEvent[] {
  const out: XidEvent[] = [];
  for (const line of lines) {
    const m = XID.exec(line);
    if (!m) continue;
    const pci = pciKey(m[1]);
    if (!pci) continue;
    const stamp = STAMP.exec(line);
    out.push({ uptimeS: stamp ? Number(stamp[1]) : null, pci, code: Number(m[2]), text: m[3].trim() });
  }
  return out;
}

/** The probe's `kernel` section: `boot_id <id>`, `until <seconds>`, then the Xid lines. */
export function parseKernelLog(lines: string[]): KernelLog {
  let bootId: string | null = null;
  let untilS: number | null = null;
  for (const l of lines) {
    if (l.startsWith('boot_id ')) bootId = l.slice('boot_id '.length).trim() || null;
    const last = /^until \[\s*(\d+(?:\.\d+)?)\]/.exec(l);
    if (last) untilS = Number(last[1]);
  }
  return { bootId, untilS, xids: parseXidLines(lines) };
}

/**
 * The Xids of a GPU that are new since the previous probe of the same boot: after a reboot every
 * Xid in the log is new; without an uptime stamp a line cannot be dated and counts once, when the
 * log is first read.
 */
export function newXids(log: KernelLog, previous: Pick<KernelLog, 'bootId' | 'untilS'> | null): XidEvent[] {
  if (!previous || previous.bootId !== log.bootId || previous.untilS === null) return log.xids;
  return log.xids.filter((x) => x.uptimeS !== null && x.uptimeS > previous.untilS!);
}
