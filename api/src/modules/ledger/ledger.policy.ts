import {
  canonicalAmount,
  canonicalJson,
  CanonicalError,
  entryHash,
  GENESIS_HASH,
  LedgerContent,
} from './ledger.canonical';
import { LEDGER_KINDS, LedgerKind } from './ledger-entry.entity';

export type LedgerProblem = 'altered' | 'removed' | 'inserted' | 'reordered';

/** One entry as verify sees it: its place, its links and its content. */
export interface ChainRow extends LedgerContent {
  seq: string;
  prevHash: string;
  hash: string;
}

export interface ChainCheckpoint {
  seq: string;
  hash: string;
  at: Date | string;
}

export interface ChainFinding {
  seq: string;
  problem: LedgerProblem;
  detail: string;
}

export interface ChainResult {
  ok: boolean;
  entries: number;
  headSeq: string | null;
  headHash: string | null;
  firstBad?: ChainFinding;
}

/**
 * Where else a hash occurs. Only asked once something is already wrong, so verify stays one pass over
 * the rows; the database answers from the unique index on `hash`, an export from a map.
 */
export interface ChainLookup {
  seqsWithHash(hash: string): Promise<string[]>;
}

const seqPlus = (seq: string, n: number) => (BigInt(seq) + BigInt(n)).toString();
const when = (at: Date | string) => (at instanceof Date ? at.toISOString() : at);

/**
 * Walks the chain in seq order and reports the first entry that is not where, or what, it claims
 * to be. Memory stays constant: it holds the previous entry, the current one and one entry of
 * look-ahead (the successor decides whether an entry that does not link back was slipped in, or moved).
 *
 * `checkpoints` (seq order; a few, one per many appends) are the heads recorded earlier: a chain cut
 * off at the end is still a perfect chain, and only a record of a longer one can show it.
 */
export async function verifyChain(
  rows: AsyncIterable<ChainRow>,
  lookup: ChainLookup,
  checkpoints: ChainCheckpoint[] = [],
): Promise<ChainResult> {
  // The window: `before` and `prev` are checked, `cur` is being checked, the row just read is its successor.
  const w: { before: ChainRow | null; prev: ChainRow | null; cur: ChainRow | null } = {
    before: null,
    prev: null,
    cur: null,
  };
  let entries = 0;
  let cp = 0;
  let firstBad: ChainFinding | undefined;
  let last: ChainRow | null = null;

  const step = async (next: ChainRow | null): Promise<ChainFinding | undefined> => {
    const e = w.cur!;
    const found = await checkEntry(w.before, w.prev, e, next, lookup);
    if (found) return found;
    while (cp < checkpoints.length && BigInt(checkpoints[cp].seq) <= BigInt(e.seq)) {
      const c = checkpoints[cp++];
      if (c.seq === e.seq && c.hash !== e.hash)
        return {
          seq: e.seq,
          problem: 'removed',
          detail: `seq ${e.seq} is not the entry the checkpoint of ${when(c.at)} recorded there: the end of the chain was cut off and new entries appended`,
        };
    }
    w.before = w.prev;
    w.prev = e;
    return undefined;
  };

  for await (const row of rows) {
    entries++;
    last = row;
    // After the first bad entry the rest is only counted, so the report still names the real head.
    if (firstBad) continue;
    if (w.cur) firstBad = await step(row);
    w.cur = row;
  }
  if (w.cur && !firstBad) firstBad = await step(null);
  const head = w.prev;
  if (!firstBad) {
    const beyond = checkpoints.slice(cp).find((c) => !head || BigInt(c.seq) > BigInt(head.seq));
    if (beyond) {
      const from = head ? seqPlus(head.seq, 1) : '1';
      firstBad = {
        seq: from,
        problem: 'removed',
        detail: `the chain ends at seq ${head?.seq ?? '(none)'} but a checkpoint of ${when(beyond.at)} recorded seq ${beyond.seq}: entries ${from}..${beyond.seq} were removed from the end`,
      };
    }
  }
  return {
    ok: !firstBad,
    entries,
    headSeq: last?.seq ?? null,
    headHash: last?.hash ?? null,
    ...(firstBad ? { firstBad } : {}),
  };
}

/** The checks for one entry `e`, given its neighbours in seq order. */
async function checkEntry(
  before: ChainRow | null,
  prev: ChainRow | null,
  e: ChainRow,
  next: ChainRow | null,
  lookup: ChainLookup,
): Promise<ChainFinding | undefined> {
  const wantSeq = prev ? seqPlus(prev.seq, 1) : '1';
  if (e.seq !== wantSeq) {
    const last = seqPlus(e.seq, -1);
    return {
      seq: wantSeq,
      problem: 'removed',
      detail:
        wantSeq === last
          ? `seq ${wantSeq} is missing (the chain jumps from ${prev?.seq ?? 'its start'} to ${e.seq})`
          : `seqs ${wantSeq}..${last} are missing (the chain jumps from ${prev?.seq ?? 'its start'} to ${e.seq})`,
    };
  }
  const wantPrev = prev?.hash ?? GENESIS_HASH;
  const linked = e.prevHash === wantPrev;
  // An entry that does not link back, whose successor links to the entry before it, sits where it
  // was never appended: it was slipped in.
  const skippedOver = !linked && next !== null && next.prevHash === wantPrev;
  let recomputed: string;
  try {
    recomputed = entryHash(e.prevHash, e);
  } catch (err) {
    return {
      seq: e.seq,
      problem: 'altered',
      detail: `seq ${e.seq} holds content that cannot be canonicalised: ${(err as Error).message}`,
    };
  }
  if (recomputed !== e.hash) {
    if (skippedOver)
      return {
        seq: e.seq,
        problem: 'inserted',
        detail: `seq ${e.seq} was slipped in: it does not link to seq ${prev?.seq ?? '(start)'}, its successor does, and its hash matches nothing`,
      };
    return {
      seq: e.seq,
      problem: 'altered',
      detail: `seq ${e.seq} does not match its hash: its content was changed after it was written`,
    };
  }
  if (linked) return undefined;

  const elsewhere = (await lookup.seqsWithHash(e.hash)).filter((s) => s !== e.seq);
  if (elsewhere.length)
    return { seq: e.seq, problem: 'inserted', detail: `seq ${e.seq} is a copy of seq ${elsewhere[0]}` };
  // Two entries claiming the same predecessor: one was slipped in. The genuine one is the one its own
  // successor links to (at the head there is no successor to ask: the earlier one is reported).
  if (prev && e.prevHash === prev.prevHash) {
    const intruder = next === null || next.prevHash === e.hash ? prev : e;
    const genuine = intruder === prev ? e : prev;
    return {
      seq: intruder.seq,
      problem: 'inserted',
      detail: `seq ${intruder.seq} was slipped in: seqs ${prev.seq} and ${e.seq} both follow seq ${before?.seq ?? '(start)'}, and only seq ${genuine.seq} belongs to the chain`,
    };
  }
  // A link to an entry that exists, but not the one just before: the rows were moved around.
  const target = e.prevHash === GENESIS_HASH ? ['(start)'] : await lookup.seqsWithHash(e.prevHash);
  if (target.length)
    return {
      seq: e.seq,
      problem: 'reordered',
      detail: `seq ${e.seq} follows ${target[0] === '(start)' ? 'the start of the chain' : `the entry now at seq ${target[0]}`}, not seq ${prev?.seq ?? '(start)'}: entries were moved`,
    };
  if (skippedOver)
    return {
      seq: e.seq,
      problem: 'inserted',
      detail: `seq ${e.seq} was slipped in: it links to no entry of the ledger, and its successor links to seq ${prev?.seq ?? '(start)'}`,
    };
  return {
    seq: e.seq,
    problem: 'removed',
    detail: `the entry seq ${e.seq} follows is no longer in the ledger: it was removed (and the seqs after it renumbered), or rewritten with a new hash`,
  };
}

/** What a caller asks to record (LedgerService.append's LedgerDraft, restated here to keep this file pure). */
export interface DraftInput {
  kind: LedgerKind;
  userId: string | null;
  courseId: string | null;
  sessionId?: string | null;
  gpuMinutes?: number;
  cpuMinutes?: number;
  actor: string;
  reason: string;
  detail?: Record<string, unknown>;
  idemKey?: string;
  at?: Date;
}

export type NormalizedDraft = Omit<LedgerContent, 'at' | 'gpuMinutes' | 'cpuMinutes'> & {
  at: Date | undefined;
  gpuMinutes: string;
  cpuMinutes: string;
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A draft in the exact form it will be stored and hashed: amounts as 4-decimal strings, ids in the
 * lower case Postgres returns uuids in, detail as the JSON it will read back as (Dates as strings),
 * timestamps to the millisecond. Throws CanonicalError naming the field that cannot be recorded.
 */
export function normalizeDraft(d: DraftInput): NormalizedDraft {
  if (!(LEDGER_KINDS as readonly string[]).includes(d.kind))
    throw new CanonicalError(`kind '${d.kind}' is not one of ${LEDGER_KINDS.join(', ')}`);
  const id = (name: string, v: string | null | undefined) => {
    if (v === null || v === undefined) return null;
    if (typeof v !== 'string' || !UUID.test(v)) throw new CanonicalError(`${name} '${String(v)}' is not a uuid`);
    return v.toLowerCase();
  };
  const text = (name: string, v: unknown, max: number, min = 0) => {
    if (typeof v !== 'string') throw new CanonicalError(`${name} must be text`);
    if (v.length < min || v.length > max) throw new CanonicalError(`${name} must be ${min}..${max} characters`);
    return v;
  };
  const amount = (name: string, v: number | undefined) => {
    try {
      return canonicalAmount(v ?? 0);
    } catch (err) {
      throw new CanonicalError(`${name}: ${(err as Error).message}`);
    }
  };
  if (d.detail !== undefined && (typeof d.detail !== 'object' || d.detail === null || Array.isArray(d.detail)))
    throw new CanonicalError('detail must be an object');
  if (d.at !== undefined && (!(d.at instanceof Date) || Number.isNaN(d.at.getTime())))
    throw new CanonicalError('at must be a valid Date');
  return {
    kind: d.kind,
    userId: id('userId', d.userId),
    courseId: id('courseId', d.courseId),
    sessionId: id('sessionId', d.sessionId),
    gpuMinutes: amount('gpuMinutes', d.gpuMinutes),
    cpuMinutes: amount('cpuMinutes', d.cpuMinutes),
    actor: text('actor', d.actor, 100, 1),
    reason: text('reason', d.reason, 2000),
    detail: JSON.parse(canonicalJson(d.detail ?? {})) as Record<string, unknown>,
    idemKey: d.idemKey === undefined ? null : text('idemKey', d.idemKey, 200, 1),
    at: d.at === undefined ? undefined : new Date(Math.floor(d.at.getTime())),
  };
}
