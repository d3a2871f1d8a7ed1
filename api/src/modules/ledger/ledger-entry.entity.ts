import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

export const LEDGER_KINDS = ['refill', 'debit', 'credit', 'adjustment'] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];

/**
 * Append-only, hash-chained usage record: `hash = sha256(prevHash + canonical(entry))`
 * (ledger.canonical.ts), so anyone with the rows can verify that nothing was altered, removed,
 * inserted or reordered. `seq` is gap-free. A trigger refuses UPDATE, DELETE and TRUNCATE: a
 * correction is a new entry.
 */
@Entity('ledger_entries')
@Index('ix_ledger_entries_user_course_at', ['userId', 'courseId', 'at'])
@Index('ix_ledger_entries_course_at', ['courseId', 'at'])
export class LedgerEntry {
  @PrimaryColumn({ type: 'bigint' }) seq!: string;
  @Column({ type: 'timestamptz' }) at!: Date;
  @Column({ type: 'varchar', length: 40 }) kind!: string;
  @Column({ name: 'user_id', type: 'uuid', nullable: true }) userId!: string | null;
  @Column({ name: 'course_id', type: 'uuid', nullable: true }) courseId!: string | null;
  @Column({ name: 'session_id', type: 'uuid', nullable: true }) sessionId!: string | null;
  /** Signed amount in GPU-minutes (debits negative), as Postgres returns numeric: "-12.5000". */
  @Column({ name: 'gpu_minutes', type: 'numeric', precision: 14, scale: 4, default: 0 }) gpuMinutes!: string;
  /** Signed amount in CPU core-minutes. */
  @Column({ name: 'cpu_minutes', type: 'numeric', precision: 14, scale: 4, default: 0 }) cpuMinutes!: string;
  /** Who caused it: 'system', 'cli', 'user:<username>'. */
  @Column({ type: 'varchar', length: 100 }) actor!: string;
  /** Why, in words. */
  @Column({ type: 'text' }) reason!: string;
  /** What: rig, GPU, model, slot share, rate, week, template... */
  @Column({ type: 'jsonb', default: () => "'{}'" }) detail!: Record<string, unknown>;
  /** A second append with the same key is skipped and returns the first entry. */
  @Index('uq_ledger_entries_idem_key', { unique: true, where: 'idem_key IS NOT NULL' })
  @Column({ name: 'idem_key', type: 'varchar', length: 200, nullable: true })
  idemKey!: string | null;
  @Column({ name: 'prev_hash', type: 'char', length: 64 }) prevHash!: string;
  @Index('uq_ledger_entries_hash', { unique: true })
  @Column({ type: 'char', length: 64 })
  hash!: string;
}

/**
 * A head of the chain as it was at some moment (written by verify and every so many appends). A
 * chain cut off at its end is still a valid chain; a checkpoint beyond the head shows the cut.
 */
@Entity('ledger_checkpoints')
export class LedgerCheckpoint {
  @PrimaryColumn({ type: 'bigint', primaryKeyConstraintName: 'PK_ledger_checkpoints' }) seq!: string;
  @Column({ type: 'char', length: 64 }) hash!: string;
  @Column({ type: 'timestamptz', default: () => 'now()' }) at!: Date;
}
