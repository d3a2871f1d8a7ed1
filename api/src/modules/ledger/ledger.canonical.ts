import { createHash } from 'node:crypto';

/**
 * The canonical content of a ledger entry: what its hash commits to. It must come out byte for byte
 * the same whether it is computed from a draft about to be written (numbers, Dates) or from the row
 * read back later (numeric columns as strings, timestamptz as Date, jsonb with its keys reordered),
 * and the same for an auditor re-computing it offline from an export. Hence: keys sorted, timestamps
 * as ISO-8601 UTC with milliseconds, amounts as fixed 4-decimal strings, detail canonicalised
 * recursively.
 *
 * `seq` is deliberately not part of the content: an entry's place in the chain is committed by
 * `prev_hash`, and leaving `seq` out is what lets verify tell an entry moved elsewhere (reordered)
 * from one whose content was changed (altered).
 */
export interface LedgerContent {
  at: Date | string;
  kind: string;
  userId: string | null;
  courseId: string | null;
  sessionId: string | null;
  gpuMinutes: number | string;
  cpuMinutes: number | string;
  actor: string;
  reason: string;
  detail: Record<string, unknown>;
  idemKey: string | null;
}

/** The first entry's `prev_hash`. */
export const GENESIS_HASH = '0'.repeat(64);

/** numeric(14,4): ten digits before the point. */
const MAX_AMOUNT = 1e10;

export class CanonicalError extends Error {}

/**
 * A signed amount as exactly four decimals ("-12.5000"), from a JS number (a draft) or from the
 * string Postgres returns for numeric(14,4). Numbers are rounded by `toFixed`, which is deterministic
 * for a given double; the service stores this very string, so what is read back matches.
 */
export function canonicalAmount(v: number | string): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new CanonicalError(`amount ${v} is not a finite number`);
    if (Math.abs(v) >= MAX_AMOUNT) throw new CanonicalError(`amount ${v} is too large (at most 9999999999.9999)`);
    return canonicalAmount(v.toFixed(4));
  }
  const m = /^([+-])?(\d+)(?:\.(\d*))?$/.exec(v.trim());
  if (!m) throw new CanonicalError(`amount '${v}' is not a decimal number`);
  const [, sign, intDigits, fracDigits = ''] = m;
  if (fracDigits.length > 4) throw new CanonicalError(`amount '${v}' has more than 4 decimals`);
  const int = intDigits.replace(/^0+(?=\d)/, '');
  if (int.length > 10) throw new CanonicalError(`amount '${v}' is too large (at most 9999999999.9999)`);
  const frac = fracDigits.padEnd(4, '0');
  const zero = /^0+$/.test(int + frac);
  return `${sign === '-' && !zero ? '-' : ''}${int}.${frac}`;
}

export function canonicalTime(v: Date | string): string {
  const d = v instanceof Date ? v : new Date(v);
  if (Number.isNaN(d.getTime())) throw new CanonicalError(`'${String(v)}' is not a valid timestamp`);
  return d.toISOString();
}

/**
 * JSON with object keys in code-unit order, no whitespace. Dates become their ISO string (what JSON
 * storage turns them into anyway); `undefined` members are dropped as JSON drops them; values JSON
 * cannot carry faithfully (NaN, Infinity, bigint, functions) are refused rather than silently changed.
 */
export function canonicalJson(v: unknown, path = 'detail'): string {
  if (v === null) return 'null';
  if (v instanceof Date) return JSON.stringify(canonicalTime(v));
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return JSON.stringify(v);
    case 'number':
      if (!Number.isFinite(v)) throw new CanonicalError(`${path} is ${v}, which JSON cannot hold`);
      return JSON.stringify(v);
    case 'object': {
      if (Array.isArray(v))
        return `[${v.map((x, i) => (x === undefined ? 'null' : canonicalJson(x, `${path}[${i}]`))).join(',')}]`;
      const obj = v as Record<string, unknown>;
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k], `${path}.${k}`)}`).join(',')}}`;
    }
    default:
      throw new CanonicalError(`${path} is a ${typeof v}, which JSON cannot hold`);
  }
}

/** The canonical serialisation of an entry's content (see the file comment). */
export function canonicalContent(c: LedgerContent): string {
  return canonicalJson(
    {
      actor: c.actor,
      at: canonicalTime(c.at),
      courseId: c.courseId,
      cpuMinutes: canonicalAmount(c.cpuMinutes),
      detail: c.detail,
      gpuMinutes: canonicalAmount(c.gpuMinutes),
      idemKey: c.idemKey,
      kind: c.kind,
      reason: c.reason,
      sessionId: c.sessionId,
      userId: c.userId,
    },
    'entry',
  );
}

/** `sha256(prev_hash || canonical(content))`, hex. */
export function entryHash(prevHash: string, c: LedgerContent): string {
  return createHash('sha256').update(prevHash).update(canonicalContent(c)).digest('hex');
}
