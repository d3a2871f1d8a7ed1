import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { csvHeader, csvLine, ExportRow, jsonHead, jsonLine, jsonTail } from './ledger-export';
import { ExportFormat } from './ledger.dto';
import { badAdjustment, badQuery, LedgerErrorCode, unknownCourse, unknownUser } from './ledger.errors';
import { AppError } from '../../platform/http/app-error';
import { LedgerService, STREAM_BATCH } from './ledger.service';

/** An entry as people read it: usernames and course codes resolved, amounts as numbers. */
export interface LedgerEntryView {
  seq: string;
  at: Date;
  kind: string;
  userId: string | null;
  username: string | null;
  courseId: string | null;
  course: string | null;
  sessionId: string | null;
  gpuMinutes: number;
  cpuMinutes: number;
  actor: string;
  reason: string;
  detail: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface AdjustmentInput {
  username: string;
  course: string;
  gpuMinutes?: number;
  cpuMinutes?: number;
  reason: string;
}

/** Who makes an adjustment: a campus admin through the API, or the CLI. */
export interface AdjustingActor {
  userId: string | null;
  /** `user:<username>` or `cli`: what the entry's actor column says. */
  actor: string;
  requestId?: string;
  idempotencyKey?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NAMED = `SELECT e.*, u.username, c.code || ':' || c.term AS course
                 FROM ledger_entries e
                 LEFT JOIN users u ON u.id = e.user_id
                 LEFT JOIN courses c ON c.id = e.course_id`;

/** What campus IT does with the ledger: read it, correct it by new entries, export it for audit. */
@Injectable()
export class LedgerAdminService {
  constructor(
    private readonly ledger: LedgerService,
    @InjectDataSource() private readonly db: DataSource,
    private readonly audit: AuditService,
  ) {}

  /** Newest first; `before` pages back by seq. */
  async list(q: { user?: string; course?: string; limit?: number; before?: string }) {
    const where: string[] = [];
    const args: unknown[] = [];
    const filter = (column: string, op: string, value: unknown) => {
      args.push(value);
      where.push(`${column} ${op} $${args.length}`);
    };
    if (q.user) filter('e.user_id', '=', await this.userId(q.user));
    if (q.course) filter('e.course_id', '=', await this.courseId(q.course));
    if (q.before) filter('e.seq', '<', q.before);
    const limit = q.limit ?? 50;
    args.push(limit);
    const rows: Array<Record<string, unknown>> = await this.db.query(
      `${NAMED} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY e.seq DESC LIMIT $${args.length}`,
      args,
    );
    const entries = rows.map(viewOf);
    return { entries, nextBefore: entries.length === limit ? entries[entries.length - 1].seq : null };
  }

  /**
   * A manual correction: a new `adjustment` entry (never a change to an old one), with the admin as
   * its actor and the reason they gave, and an audit event. Nothing is written when any input is bad.
   */
  async adjust(by: AdjustingActor, input: AdjustmentInput): Promise<LedgerEntryView> {
    const gpu = input.gpuMinutes ?? 0;
    const cpu = input.cpuMinutes ?? 0;
    if (gpu === 0 && cpu === 0) throw badAdjustment('give gpuMinutes or cpuMinutes (signed, not 0)');
    const reason = input.reason.trim();
    if (reason.length < 3 || reason.length > 500)
      throw badAdjustment('reason must be 3 to 500 characters: say why, for the audit');
    const userId = await this.userId(input.username);
    const courseId = await this.courseId(input.course);
    const [member] = await this.db.query(`SELECT 1 FROM enrollments WHERE user_id = $1 AND course_id = $2`, [
      userId,
      courseId,
    ]);
    if (!member)
      throw new AppError(
        LedgerErrorCode.NotMember,
        'invalid',
        `${input.username} is not a member of course ${input.course}: adjustments are per student and course`,
      );
    const [entry] = await this.ledger.append([
      {
        kind: 'adjustment',
        userId,
        courseId,
        gpuMinutes: gpu,
        cpuMinutes: cpu,
        actor: by.actor,
        reason,
        detail: { adjustedBy: by.actor, ...(by.requestId ? { requestId: by.requestId } : {}) },
        ...(by.idempotencyKey ? { idemKey: `adjustment:${by.idempotencyKey}` } : {}),
      },
    ]);
    await this.audit.record({
      action: 'ledger.adjust',
      actorUserId: by.userId,
      actor: by.actor,
      targetType: 'ledger_entry',
      targetId: entry.seq,
      detail: { username: input.username, course: input.course, gpuMinutes: gpu, cpuMinutes: cpu, reason },
      requestId: by.requestId,
    });
    return (await this.bySeq(entry.seq))!;
  }

  async bySeq(seq: string): Promise<LedgerEntryView | null> {
    const [row] = await this.db.query(`${NAMED} WHERE e.seq = $1`, [seq]);
    return row ? viewOf(row) : null;
  }

  /**
   * The whole ledger as text chunks, from one snapshot, streamed in seq order a batch at a time (so
   * exporting millions of entries holds only one batch in memory).
   */
  async *export(format: ExportFormat, now = new Date()): AsyncGenerator<string> {
    // A read-only REPEATABLE READ transaction: one snapshot however long the download takes. The
    // generator's `finally` gives the connection back even when the reader goes away half-way.
    const qr = this.db.createQueryRunner();
    await qr.connect();
    try {
      await qr.startTransaction('REPEATABLE READ');
      await qr.query('SET TRANSACTION READ ONLY');
      yield format === 'csv' ? csvHeader() : jsonHead(now);
      let count = 0;
      let head: ExportRow | null = null;
      let after = '0';
      for (;;) {
        const rows: Array<Record<string, unknown>> = await qr.query(
          `${NAMED} WHERE e.seq > $1 ORDER BY e.seq LIMIT $2`,
          [after, STREAM_BATCH],
        );
        let text = '';
        for (const r of rows) {
          head = exportRowOf(r);
          text += format === 'csv' ? csvLine(head) : jsonLine(head, count === 0);
          count++;
        }
        if (text) yield text;
        if (rows.length < STREAM_BATCH) break;
        after = String(rows[rows.length - 1].seq);
      }
      if (format === 'json') yield jsonTail(count, head?.seq ?? null, head?.hash ?? null);
      await qr.commitTransaction();
    } finally {
      if (qr.isTransactionActive) await qr.rollbackTransaction().catch(() => undefined);
      await qr.release();
    }
  }

  private async userId(username: string): Promise<string> {
    const [u] = await this.db.query(`SELECT id FROM users WHERE username = $1`, [username.trim().toLowerCase()]);
    if (!u) throw unknownUser(username);
    return u.id as string;
  }

  /** A course by its id or by CODE:TERM (letter case does not matter). */
  private async courseId(given: string): Promise<string> {
    const v = given.trim();
    if (UUID.test(v)) {
      const [c] = await this.db.query(`SELECT id FROM courses WHERE id = $1`, [v]);
      if (c) return c.id as string;
      throw unknownCourse(given);
    }
    const m = /^([^:\s]+):([^:\s]+)$/.exec(v);
    if (!m) throw badQuery(`course '${given}' is neither a course id nor CODE:TERM (such as CS101:2026F)`);
    const [c] = await this.db.query(
      `SELECT id FROM courses WHERE lower(code) = lower($1) AND lower(term) = lower($2)`,
      [m[1], m[2]],
    );
    if (!c) throw unknownCourse(given);
    return c.id as string;
  }
}

function viewOf(r: Record<string, unknown>): LedgerEntryView {
  return {
    seq: String(r.seq),
    at: r.at as Date,
    kind: r.kind as string,
    userId: (r.user_id as string) ?? null,
    username: (r.username as string) ?? null,
    courseId: (r.course_id as string) ?? null,
    course: (r.course as string) ?? null,
    sessionId: (r.session_id as string) ?? null,
    gpuMinutes: Number(r.gpu_minutes),
    cpuMinutes: Number(r.cpu_minutes),
    actor: r.actor as string,
    reason: r.reason as string,
    detail: (r.detail as Record<string, unknown>) ?? {},
    prevHash: r.prev_hash as string,
    hash: r.hash as string,
  };
}

function exportRowOf(r: Record<string, unknown>): ExportRow {
  return {
    seq: String(r.seq),
    at: (r.at as Date).toISOString(),
    kind: r.kind as string,
    user_id: (r.user_id as string) ?? null,
    username: (r.username as string) ?? null,
    course_id: (r.course_id as string) ?? null,
    course: (r.course as string) ?? null,
    session_id: (r.session_id as string) ?? null,
    gpu_minutes: String(r.gpu_minutes),
    cpu_minutes: String(r.cpu_minutes),
    actor: r.actor as string,
    reason: r.reason as string,
    detail: (r.detail as Record<string, unknown>) ?? {},
    idem_key: (r.idem_key as string) ?? null,
    prev_hash: r.prev_hash as string,
    hash: r.hash as string,
  };
}
