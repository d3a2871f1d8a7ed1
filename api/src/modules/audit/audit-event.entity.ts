import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

@Entity('audit_events')
export class AuditEvent {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' }) id!: string;
  @Index('ix_audit_events_at')
  @CreateDateColumn({ name: 'at', type: 'timestamptz' })
  at!: Date;
  /** Null for the system itself (jobs, CLI without a user). */
  @Column({ name: 'actor_user_id', type: 'uuid', nullable: true }) actorUserId!: string | null;
  @Column({ name: 'actor', type: 'varchar', length: 100, default: 'system' }) actor!: string;
  @Column({ type: 'varchar', length: 80 }) action!: string;
  @Column({ name: 'target_type', type: 'varchar', length: 40, nullable: true }) targetType!: string | null;
  @Column({ name: 'target_id', type: 'varchar', length: 100, nullable: true }) targetId!: string | null;
  @Column({ type: 'jsonb', default: () => "'{}'" }) detail!: Record<string, unknown>;
  @Column({ name: 'request_id', type: 'varchar', length: 64, nullable: true }) requestId!: string | null;
  @Column({ type: 'varchar', length: 64, nullable: true }) ip!: string | null;
}
