import { badExport } from './ledger.errors';
import type { ChainRow } from './ledger.policy';
import type { ExportFormat } from './ledger.dto';

/**
 * The export formats. Every column is there, hashes included, so an auditor can re-verify the chain
 * offline (`riglab ledger verify --file`); `username` and `course` are added for reading and are not
 * part of what is hashed.
 */
export const EXPORT_COLUMNS = [
  'seq',
  'at',
  'kind',
  'user_id',
  'username',
  'course_id',
  'course',
  'session_id',
  'gpu_minutes',
  'cpu_minutes',
  'actor',
  'reason',
  'detail',
  'idem_key',
  'prev_hash',
  'hash',
] as const;

export interface ExportRow {
  seq: string;
  at: string;
  kind: string;
  user_id: string | null;
  username: string | null;
  course_id: string | null;
  course: string | null;
  session_id: string | null;
  gpu_minutes: string;
  cpu_minutes: string;
  actor: string;
  reason: string;
  detail: Record<string, unknown>;
  idem_key: string | null;
  prev_hash: string;
  hash: string;
}

export const EXPORT_FORMAT_ID = 'riglab-ledger-export';

const csvCell = (v: string | null): string => {
  if (v === null) return '';
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
};

export function csvHeader(): string {
  return `${EXPORT_COLUMNS.join(',')}\r\n`;
}

export function csvLine(r: ExportRow): string {
  return `${EXPORT_COLUMNS.map((c) => csvCell(c === 'detail' ? JSON.stringify(r.detail) : r[c])).join(',')}\r\n`;
}

/** The JSON export is one object; its entries are written one per line as they stream. */
export function jsonHead(exportedAt: Date): string {
  return `{"format":"${EXPORT_FORMAT_ID}","version":1,"exportedAt":"${exportedAt.toISOString()}","entries":[\n`;
}

export function jsonLine(r: ExportRow, first: boolean): string {
  return `${first ? '' : ',\n'}${JSON.stringify(r)}`;
}

export function jsonTail(count: number, headSeq: string | null, headHash: string | null): string {
  return `\n],"count":${count},"headSeq":${JSON.stringify(headSeq)},"headHash":${JSON.stringify(headHash)}}\n`;
}

export const contentType = (f: ExportFormat) => (f === 'csv' ? 'text/csv; charset=utf-8' : 'application/json');

/** One CSV record per line pair of quotes: splits a whole file into records of cells (RFC 4180). */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let cell = '';
  let row: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      records.push(row);
      row = [];
      cell = '';
    } else cell += ch;
  }
  if (quoted) throw badExport('the CSV file ends inside a quoted field');
  if (cell !== '' || row.length) records.push([...row, cell]);
  return records.filter((r) => !(r.length === 1 && r[0] === ''));
}

const toChainRow = (r: Record<string, unknown>, where: string): ChainRow => {
  for (const c of ['seq', 'at', 'kind', 'gpu_minutes', 'cpu_minutes', 'actor', 'reason', 'prev_hash', 'hash'])
    if (typeof r[c] !== 'string') throw badExport(`${where}: ${c} is missing`);
  const nul = (v: unknown) => (v === '' || v === undefined || v === null ? null : String(v));
  let detail = r.detail;
  if (typeof detail === 'string') {
    try {
      detail = JSON.parse(detail);
    } catch {
      throw badExport(`${where}: detail is not JSON`);
    }
  }
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail))
    throw badExport(`${where}: detail must be a JSON object`);
  return {
    seq: r.seq as string,
    at: r.at as string,
    kind: r.kind as string,
    userId: nul(r.user_id),
    courseId: nul(r.course_id),
    sessionId: nul(r.session_id),
    gpuMinutes: r.gpu_minutes as string,
    cpuMinutes: r.cpu_minutes as string,
    actor: r.actor as string,
    reason: r.reason as string,
    detail: detail as Record<string, unknown>,
    idemKey: nul(r.idem_key),
    prevHash: r.prev_hash as string,
    hash: r.hash as string,
  };
};

/** The entries of an exported file (JSON or CSV, told apart by their content), for offline verification. */
export function parseExport(text: string): ChainRow[] {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) {
    let doc: { format?: unknown; entries?: unknown };
    try {
      doc = JSON.parse(trimmed);
    } catch (err) {
      throw badExport(`the file is not valid JSON (${(err as Error).message})`);
    }
    if (doc.format !== EXPORT_FORMAT_ID || !Array.isArray(doc.entries))
      throw badExport(`the file is not a riglab ledger export (no "format": "${EXPORT_FORMAT_ID}" with "entries")`);
    return doc.entries.map((e, i) => toChainRow(e as Record<string, unknown>, `entry ${i + 1}`));
  }
  const [header, ...records] = parseCsv(text);
  if (!header || header.join(',') !== EXPORT_COLUMNS.join(','))
    throw badExport(
      `the file is neither a JSON ledger export nor a CSV one with the header ${EXPORT_COLUMNS.join(',')}`,
    );
  return records.map((cells, i) => {
    if (cells.length !== EXPORT_COLUMNS.length)
      throw badExport(`line ${i + 2}: ${cells.length} fields, expected ${EXPORT_COLUMNS.length}`);
    return toChainRow(Object.fromEntries(EXPORT_COLUMNS.map((c, j) => [c, cells[j]])), `line ${i + 2}`);
  });
}
