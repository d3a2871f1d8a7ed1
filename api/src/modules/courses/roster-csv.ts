import { parse } from 'csv-parse/sync';
import type { CourseRole } from './course.entity';
import { COURSE_ROLES } from './course.entity';
import { isCourseRole, normalizeUsername, USERNAME_HINT } from './courses.policy';

// Roster files: `username,role` per line, the header line optional. Parsing and planning are pure;
// the service applies a plan in one transaction.

export const ROSTER_MAX_ROWS = 5000;

export type RosterAction = 'add' | 'change' | 'keep' | 'error';

export interface RosterRow {
  /** 1-based line in the file, as an editor shows it. */
  line: number;
  username: string;
  role: string;
  action: RosterAction;
  error?: string;
}

export interface RosterPreview {
  rows: RosterRow[];
  applied: boolean;
  summary: Record<RosterAction, number>;
}

interface ParsedRow {
  line: number;
  username: string;
  role: string;
  error?: string;
}

/** Reads the file into rows with their own problems (bad username or role, duplicate, empty row). */
export function parseRoster(csv: string): ParsedRow[] {
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parse(csv, {
      bom: true,
      trim: true,
      info: true,
      relax_column_count: true,
      skip_empty_lines: false,
    }) as unknown as Array<{ record: string[]; info: { lines: number } }>;
  } catch (err) {
    const e = err as { lines?: number; message?: string };
    // csv-parse names the problem (an unclosed quote, say); nothing else of the file can be trusted then.
    const what = String(e.message ?? 'unreadable').replace(/^.*?:\s*/, '');
    return [{ line: e.lines ?? 1, username: '', role: '', error: `the file is not valid CSV: ${what}` }];
  }
  const blank = (r: string[]) => r.every((c) => c === '');
  // Blank lines at the very end are what editors leave behind, not rows.
  while (records.length && blank(records[records.length - 1].record)) records.pop();

  const rows: ParsedRow[] = [];
  const seen = new Map<string, number>();
  records.forEach(({ record, info }, i) => {
    const line = info.lines;
    if (i === 0 && record[0]?.toLowerCase() === 'username') return; // the optional header
    const [rawUser = '', rawRole = '', ...extra] = record;
    const row: ParsedRow = { line, username: rawUser, role: rawRole.toLowerCase() };
    if (blank(record)) row.error = 'empty row';
    else if (extra.some((c) => c !== '')) row.error = `too many columns (${record.length}): expected username,role`;
    else {
      const username = normalizeUsername(rawUser);
      if (!rawUser) row.error = 'no username';
      else if (!username) row.error = `username '${rawUser}' is not allowed: ${USERNAME_HINT}`;
      else {
        row.username = username;
        if (!rawRole) row.error = `no role for ${username}: give one of ${COURSE_ROLES.join(', ')}`;
        else if (!isCourseRole(row.role)) row.error = `role '${rawRole}' is not one of ${COURSE_ROLES.join(', ')}`;
        else if (seen.has(username)) row.error = `${username} is listed twice (first on line ${seen.get(username)})`;
        if (!seen.has(username)) seen.set(username, line);
      }
    }
    rows.push(row);
  });
  if (rows.length > ROSTER_MAX_ROWS)
    return [
      {
        line: 1,
        username: '',
        role: '',
        error: `the file has ${rows.length} rows; at most ${ROSTER_MAX_ROWS} at once`,
      },
    ];
  return rows;
}

/**
 * What importing the rows would do to a roster (`current`: username → role). Importing only adds and
 * re-roles; members missing from the file stay (removing is a separate, deliberate act).
 * `refuse` lets the caller veto a row (e.g. an instructor demoting themselves).
 */
export function planRoster(
  rows: ParsedRow[],
  current: Map<string, CourseRole>,
  refuse: (username: string, role: CourseRole) => string | null = () => null,
): RosterPreview {
  const out: RosterRow[] = rows.map((r) => {
    if (r.error) return { line: r.line, username: r.username, role: r.role, action: 'error', error: r.error };
    const role = r.role as CourseRole;
    const veto = refuse(r.username, role);
    if (veto) return { line: r.line, username: r.username, role, action: 'error', error: veto };
    const had = current.get(r.username);
    return { line: r.line, username: r.username, role, action: !had ? 'add' : had === role ? 'keep' : 'change' };
  });
  const summary: Record<RosterAction, number> = { add: 0, change: 0, keep: 0, error: 0 };
  for (const r of out) summary[r.action]++;
  if (out.length === 0) {
    out.push({ line: 1, username: '', role: '', action: 'error', error: 'the file lists nobody' });
    summary.error = 1;
  }
  return { rows: out, applied: false, summary };
}
