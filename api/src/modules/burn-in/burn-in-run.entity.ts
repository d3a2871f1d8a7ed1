import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import type { BurnInCheckStatus } from '../../../../spawner/src';
import { Rig } from '../rigs/rig.entity';

export const BURN_IN_STATUSES = ['running', 'passed', 'failed', 'cancelled'] as const;
export type BurnInStatus = (typeof BURN_IN_STATUSES)[number];

/** One check of a run as stored (and shown): updated as it starts and ends. */
export interface StoredCheck {
  name: string;
  status: BurnInCheckStatus;
  detail: string;
  figures: Record<string, number>;
  startedAt: string | null;
  finishedAt: string | null;
}

/**
 * One burn-in self-test of a rig, started whenever the rig enters `burn-in`. At most one runs per rig
 * (the partial unique index); `claimed_at` says a worker began it, so a run still `running` that
 * nobody holds the rig's burn-in lock for was interrupted (burn-in.service.ts).
 */
@Entity('burn_in_runs')
@Index('ix_burn_in_runs_rig', ['rigId', 'startedAt'])
@Index('uq_burn_in_runs_running', ['rigId'], { unique: true, where: `"status" = 'running'` })
export class BurnInRun {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'PK_burn_in_runs' }) id!: string;
  @Column({ name: 'rig_id', type: 'uuid' }) rigId!: string;
  @ManyToOne(() => Rig, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'rig_id', foreignKeyConstraintName: 'FK_burn_in_runs_rig' })
  rig?: Rig;
  @Column({ type: 'enum', enum: BURN_IN_STATUSES, enumName: 'burn_in_status', default: 'running' })
  status!: BurnInStatus;
  /** When the run was asked for (the rig entered burn-in). */
  @CreateDateColumn({ name: 'started_at', type: 'timestamptz' }) startedAt!: Date;
  /** When a worker began executing it; null while it waits for one. */
  @Column({ name: 'claimed_at', type: 'timestamptz', nullable: true }) claimedAt!: Date | null;
  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true }) finishedAt!: Date | null;
  /** One line: why it failed or was cancelled; '' while running and when it passed. */
  @Column({ type: 'text', default: '' }) reason!: string;
  /** Who moved the rig into burn-in: a username, 'cli', or 'rule:<name>'. */
  @Column({ name: 'requested_by', type: 'varchar', length: 100 }) requestedBy!: string;
  /** The reason given for entering burn-in. */
  @Column({ name: 'request_reason', type: 'text', default: '' }) requestReason!: string;
  @Column({ type: 'jsonb', default: () => "'[]'" }) checks!: StoredCheck[];
}
