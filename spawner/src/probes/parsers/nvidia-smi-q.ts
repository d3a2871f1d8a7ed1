/**
 * What riglab reads from `nvidia-smi -q` (the human-readable report) that `--query-gpu` does not
 * give: the PCIe replay counter ("Replays Since Reset"; older drivers spell it "Replays since
 * reset"), and the card's own slowdown threshold ("GPU Slowdown Temp", absolute °C). Drivers from
 * about 2023 on print thresholds relative to T.Limit instead ("GPU Slowdown T.Limit Temp : -2 C"),
 * which is no absolute temperature: those cards keep the per-model table of the health rules.
 */
export interface NvidiaQueryReport {
  /** Normalised PCI address (see pciKey), the key the CSV rows and kernel log lines are matched on. */
  pci: string;
  replays: number | null;
  slowdownTempC: number | null;
}

/**
 * One GPU address in every spelling the tools use — `00000000:01:00.0` (CSV), `0000:06:00.0` (old
 * -q), `PCI:0000:01:00` (kernel log, no function) — as `domain:bus:device` in lower-case hex with
 * the domain as a plain number. Null when the text is no PCI address.
 */
export function pciKey(text: string | null | undefined): string | null {
  const m = /(?:PCI:)?([0-9a-f]{1,8}):([0-9a-f]{2}):([0-9a-f]{2})(?:\.[0-7])?/i.exec(text ?? '');
  if (!m) return null;
  return `${parseInt(m[1], 16)}:${m[2].toLowerCase()}:${m[3].toLowerCase()}`;
}

const valueOf = (line: string) => line.slice(line.indexOf(':') + 1).trim();
const intOrNull = (v: string) => (/^-?\d+$/.test(v) ? Number(v) : null);

/** "GPU Slowdown Temp : 93 C" → 93; the T.Limit-relative line and "N/A" → null. */
export function slowdownOfLine(line: string): number | null {
  const m = /^\s*GPU Slowdown Temp\s*:\s*(-?\d+)\s*C\s*$/.exec(line);
  return m ? Number(m[1]) : null;
}

/** Reads every GPU block of a `nvidia-smi -q` report (whole, or cut short: a missing value is null). */
export function parseNvidiaSmiQuery(lines: string[]): NvidiaQueryReport[] {
  const out: NvidiaQueryReport[] = [];
  let cur: NvidiaQueryReport | null = null;
  for (const line of lines) {
    const header = /^GPU ([0-9a-fA-F]+:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\s*$/.exec(line);
    if (header) {
      cur = { pci: pciKey(header[1])!, replays: null, slowdownTempC: null };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    const t = line.trim();
    if (/^Replays since reset\s*:/i.test(t)) cur.replays = intOrNull(valueOf(t));
    else if (/^GPU Slowdown Temp\s*:/.test(t)) cur.slowdownTempC = slowdownOfLine(t);
  }
  return out;
}
