import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Append-only, hash-chained usage record: `hash = sha256(prevHash + canonical(entry))`, so anyone with
 * the rows can verify that nothing was altered, removed or reordered. `seq` is gap-free.
 */
@Entity('ledger_entries')
export class LedgerEntry {
  @PrimaryColumn({ type: 'bigint' }) seq!: string;
  @Column({ type: 'timestamptz' }) at!: Date;
  @Column({ type: 'varchar', length: 40 }) kind!: string;
  @Index('ix_ledger_entries_user')
  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId!: string | null;
  @Column({ name: 'course_id', type: 'uuid', nullable: true }) courseId!: string | null;
  @Column({ name: 'session_id', type: 'uuid', nullable: true }) sessionId!: string | null;
  /** Signed amount in GPU-minutes (debits negative). */
  @Column({ name: 'gpu_minutes', type: 'numeric', precision: 14, scale: 4, default: 0 }) gpuMinutes!: string;
  @Column({ type: 'jsonb', default: () => "'{}'" }) detail!: Record<string, unknown>;
  @Column({ name: 'prev_hash', type: 'char', length: 64 }) prevHash!: string;
  @Index('uq_ledger_entries_hash', { unique: true })
  @Column({ type: 'char', length: 64 })
  hash!: string;
}
