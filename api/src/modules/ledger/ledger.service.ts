import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { entryHash, GENESIS_HASH } from './ledger.canonical';
import { LedgerCheckpoint, LedgerEntry } from './ledger-entry.entity';
import { badDraft } from './ledger.errors';
import { ChainRow, DraftInput, LedgerProblem, normalizeDraft, verifyChain } from './ledger.policy';

export type { LedgerKind } from './ledger-entry.entity';

/**
 * What a caller asks to record: kind, who (userId, courseId, sessionId), signed gpuMinutes and
 * cpuMinutes (default 0), actor, reason, detail, an optional idemKey, and `at` (default: the
 * database's clock when it is written). Declared beside the pure rules that check it.
 */
export type LedgerDraft = DraftInput;

export interface LedgerVerifyReport {
  ok: boolean;
  entries: number;
  headSeq: string | null;
  headHash: string | null;
  durationMs: number;
  firstBad?: { seq: string; problem: LedgerProblem; detail: string };
}

/** Any pg-backed query function: an EntityManager's or a QueryRunner's. */
type Query = (sql: string, params?: unknown[]) => Promise<Array<Record<string, unknown>>>;

/**
 * Every append in every portal process takes this one transaction-scoped advisory lock, so appends
 * are serialised: each reads the head another committed, and seqs stay gap-free. ("ledger" in ASCII, 0x6c6564676572.)
 */
export const LEDGER_LOCK_KEY = '119182731994482';
/** A checkpoint of the head is written whenever the chain grows past a multiple of this. */
export const CHECKPOINT_EVERY = 1000n;
/** Rows per round trip when streaming the chain: big enough to amortise, small enough for constant memory. */
export const STREAM_BATCH = 2000;

const COLUMNS =
  'seq, at, kind, user_id, course_id, session_id, gpu_minutes, cpu_minutes, actor, reason, detail, idem_key, prev_hash, hash';

export function entryOfRow(r: Record<string, unknown>): LedgerEntry {
  return Object.assign(new LedgerEntry(), {
    seq: String(r.seq),
    at: r.at as Date,
    kind: r.kind as string,
    userId: (r.user_id as string | null) ?? null,
    courseId: (r.course_id as string | null) ?? null,
    sessionId: (r.session_id as string | null) ?? null,
    gpuMinutes: String(r.gpu_minutes),
    cpuMinutes: String(r.cpu_minutes),
    actor: r.actor as string,
    reason: r.reason as string,
    detail: (r.detail as Record<string, unknown>) ?? {},
    idemKey: (r.idem_key as string | null) ?? null,
    prevHash: r.prev_hash as string,
    hash: r.hash as string,
  });
}

/** The append-only usage ledger: appends that chain, and the check that the chain is whole. */
@Injectable()
export class LedgerService {
  private readonly log = new Logger('ledger');

  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Appends in order, in `tx` when given (so a debit commits with the state change it pays for).
   * An entry whose `idemKey` is already recorded is skipped, and the recorded one returned in its
   * place. The lock is held until `tx` ends, so take it late in a long transaction; in a SERIALIZABLE
   * one a concurrent append can still surface as a serialization failure, to be retried as usual.
   */
  async append(drafts: LedgerDraft[], tx?: EntityManager): Promise<LedgerEntry[]> {
    if (drafts.length === 0) return [];
    const prepared = drafts.map((d, i) => {
      try {
        return normalizeDraft(d);
      } catch (err) {
        throw badDraft(`ledger entry ${i + 1}: ${(err as Error).message}`);
      }
    });
    if (tx && !tx.queryRunner?.isTransactionActive)
      // Outside a transaction the advisory lock would end with its own statement and serialise nothing.
      throw new Error('LedgerService.append: the EntityManager given is not in a transaction');
    const work = async (m: EntityManager): Promise<LedgerEntry[]> => {
      const q: Query = (sql, params) => m.query(sql, params);
      await q(`SELECT pg_advisory_xact_lock(${LEDGER_LOCK_KEY})`);
      // A statement of its own, after the lock: under READ COMMITTED its snapshot sees every append
      // committed before the lock was granted.
      const [head] = await q(
        `SELECT h.seq, h.hash, date_trunc('milliseconds', clock_timestamp()) AS now
           FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT seq, hash FROM ledger_entries ORDER BY seq DESC LIMIT 1) h ON true`,
      );
      const keys = prepared.map((p) => p.idemKey).filter((k): k is string => k !== null);
      const known = new Map<string, LedgerEntry>();
      if (keys.length)
        for (const r of await q(`SELECT ${COLUMNS} FROM ledger_entries WHERE idem_key = ANY($1)`, [keys]))
          known.set(r.idem_key as string, entryOfRow(r));

      const startSeq = head.seq === null ? 0n : BigInt(head.seq as string);
      let seq = startSeq;
      let prevHash = (head.hash as string | null) ?? GENESIS_HASH;
      const out: LedgerEntry[] = [];
      const fresh: LedgerEntry[] = [];
      for (const p of prepared) {
        const again = p.idemKey !== null ? known.get(p.idemKey) : undefined;
        if (again) {
          out.push(again);
          continue;
        }
        const content = { ...p, at: p.at ?? (head.now as Date) };
        const hash = entryHash(prevHash, content);
        seq += 1n;
        const e = Object.assign(new LedgerEntry(), { ...content, seq: seq.toString(), prevHash, hash });
        if (e.idemKey !== null) known.set(e.idemKey, e);
        out.push(e);
        fresh.push(e);
        prevHash = hash;
      }
      for (let i = 0; i < fresh.length; i += 500) await insertRows(q, fresh.slice(i, i + 500));
      if (fresh.length && startSeq / CHECKPOINT_EVERY !== seq / CHECKPOINT_EVERY)
        await q(`INSERT INTO ledger_checkpoints (seq, hash) VALUES ($1, $2) ON CONFLICT (seq) DO NOTHING`, [
          seq.toString(),
          prevHash,
        ]);
      return out;
    };
    return tx ? work(tx) : this.db.transaction(work);
  }

  /**
   * Recomputes the whole chain from one consistent snapshot, streaming it in seq order (constant
   * memory), and reports the first entry that was altered, removed, inserted or reordered. A whole
   * chain's head is recorded as a checkpoint, so a later cut at the end shows.
   */
  async verify(): Promise<LedgerVerifyReport> {
    const t0 = performance.now();
    const result = await this.inSnapshot(async (q) => {
      const checkpoints = (await q(`SELECT seq, hash, at FROM ledger_checkpoints ORDER BY seq`)) as unknown as Array<
        Pick<LedgerCheckpoint, 'seq' | 'hash' | 'at'>
      >;
      return verifyChain(
        chainRows(q),
        {
          seqsWithHash: async (h) =>
            (await q(`SELECT seq FROM ledger_entries WHERE hash = $1 ORDER BY seq`, [h])).map((r) => String(r.seq)),
        },
        checkpoints.map((c) => ({ ...c, seq: String(c.seq) })),
      );
    });
    if (result.ok && result.headSeq !== null)
      await this.db.query(`INSERT INTO ledger_checkpoints (seq, hash) VALUES ($1, $2) ON CONFLICT (seq) DO NOTHING`, [
        result.headSeq,
        result.headHash,
      ]);
    const report: LedgerVerifyReport = { ...result, durationMs: Math.round(performance.now() - t0) };
    // The head hash in the log is an anchor outside the database: a rewritten chain cannot match it.
    if (report.ok) this.log.log({ ...report }, 'ledger verified');
    else this.log.warn({ ...report }, 'ledger chain is broken');
    return report;
  }

  /**
   * Runs `work` in a read-only REPEATABLE READ transaction: one snapshot for a whole read of the chain,
   * however long it takes and whatever is appended meanwhile.
   */
  async inSnapshot<T>(work: (q: Query) => Promise<T>): Promise<T> {
    const qr: QueryRunner = this.db.createQueryRunner();
    await qr.connect();
    try {
      await qr.startTransaction('REPEATABLE READ');
      await qr.query('SET TRANSACTION READ ONLY');
      const out = await work((sql, params) => qr.query(sql, params));
      await qr.commitTransaction();
      return out;
    } catch (err) {
      if (qr.isTransactionActive) await qr.rollbackTransaction().catch(() => undefined);
      throw err;
    } finally {
      await qr.release();
    }
  }
}

async function insertRows(q: Query, rows: LedgerEntry[]): Promise<void> {
  const params: unknown[] = [];
  const tuples = rows.map((e) => {
    const at = e.at instanceof Date ? e.at.toISOString() : e.at;
    params.push(e.seq, at, e.kind, e.userId, e.courseId, e.sessionId, e.gpuMinutes, e.cpuMinutes);
    params.push(e.actor, e.reason, JSON.stringify(e.detail), e.idemKey, e.prevHash, e.hash);
    const b = params.length - 14;
    return `(${Array.from({ length: 14 }, (_, i) => `$${b + i + 1}`).join(', ')})`;
  });
  await q(`INSERT INTO ledger_entries (${COLUMNS}) VALUES ${tuples.join(', ')}`, params);
}

/** The chain in seq order, one batch per round trip (keyset pagination: each batch starts after the last seq). */
export async function* chainRows(q: Query, batch = STREAM_BATCH): AsyncGenerator<ChainRow> {
  let after = '0';
  for (;;) {
    const rows = await q(`SELECT ${COLUMNS} FROM ledger_entries WHERE seq > $1 ORDER BY seq LIMIT $2`, [after, batch]);
    for (const r of rows) yield entryOfRow(r);
    if (rows.length < batch) return;
    after = String(rows[rows.length - 1].seq);
  }
}
