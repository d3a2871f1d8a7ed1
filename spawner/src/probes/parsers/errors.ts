/**
 * A probe section whose text is not what its tool prints. The message names the source and what
 * was wrong, in plain words; the sample lists it under `notAvailable` instead of failing the probe.
 */
export class TelemetryParseError extends Error {
  constructor(
    readonly source: string,
    message: string,
  ) {
    super(`${source}: ${message}`);
  }
}

/** A finite number from a decimal string, else null ("", "N/A", "0x1f" and "12abc" are not numbers). */
export function num(text: string | undefined | null): number | null {
  if (text == null) return null;
  const t = text.trim();
  if (!/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(t)) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

/** Rounds to `digits` decimals, keeping null. */
export function round(n: number | null, digits = 1): number | null {
  if (n == null) return null;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
