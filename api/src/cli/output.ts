import { InvalidArgumentError } from 'commander';
/** Plain aligned columns for terminal output; `--json` callers get the rows as they are. */
export function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cell = (v: unknown) =>
    v === null || v === undefined
      ? '-'
      : v instanceof Date
        ? v.toISOString()
        : Array.isArray(v)
          ? v.join(',')
          : String(v);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join(
    '\n',
  );
}

/** `CS101:2026F` → code and term. */
export const courseArg = (v: string): { code: string; term: string } => {
  const m = /^([^:\s]+):([^:\s]+)$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`give the course as CODE:TERM, e.g. CS101:2026F (got '${v}')`);
  return { code: m[1], term: m[2] };
};
