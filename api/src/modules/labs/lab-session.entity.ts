import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { Course } from '../courses/course.entity';
import { Rig } from '../rigs/rig.entity';
import { LabTemplateVersion } from '../templates/lab-template.entity';
import { User } from '../users/user.entity';

/** DESIGN.md's lifecycle: queued → placing → starting → ready → stopping → stopped (+ failed, lost). */
export const LAB_STATES = ['queued', 'placing', 'starting', 'ready', 'stopping', 'stopped', 'failed', 'lost'] as const;
export type LabState = (typeof LAB_STATES)[number];
export const ACTIVE_LAB_STATES: readonly LabState[] = ['queued', 'placing', 'starting', 'ready', 'stopping'];

@Entity('lab_sessions')
// One live lab per student per template: a second Launch returns the running one.
@Index('uq_lab_sessions_active', ['userId', 'templateVersionId', 'name'], {
  unique: true,
  where: `state IN ('queued','placing','starting','ready','stopping')`,
})
export class LabSession {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Index('ix_lab_sessions_user')
  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;
  @ManyToOne(() => User, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'user_id' })
  user?: User;
  @Column({ name: 'course_id', type: 'uuid' }) courseId!: string;
  @ManyToOne(() => Course, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'course_id' })
  course?: Course;
  @Column({ name: 'template_version_id', type: 'uuid' }) templateVersionId!: string;
  @ManyToOne(() => LabTemplateVersion, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'template_version_id' })
  templateVersion?: LabTemplateVersion;
  /** The `<server>` part of `/user/<name>/<server>/`. */
  @Column({ type: 'varchar', length: 64 }) name!: string;
  @Index('ix_lab_sessions_state')
  @Column({ type: 'enum', enum: LAB_STATES, enumName: 'lab_state', default: 'queued' })
  state!: LabState;
  @Column({ name: 'state_reason', type: 'text', default: '' }) stateReason!: string;
  @Column({ name: 'rig_id', type: 'uuid', nullable: true }) rigId!: string | null;
  @ManyToOne(() => Rig, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'rig_id' })
  rig?: Rig;
  /** The spawner's opaque handle (rig id, container id and name), stored and passed back unparsed. */
  @Column({ type: 'jsonb', nullable: true }) handle!: Record<string, unknown> | null;
  /** Where the portal reaches the Jupyter server (`http://ip:port`). */
  @Column({ type: 'varchar', length: 300, nullable: true }) endpoint!: string | null;
  /** Jupyter's per-session token: the proxy injects it; the student never sees it. */
  @Column({ name: 'jupyter_token', type: 'varchar', length: 128, nullable: true }) jupyterToken!: string | null;
  /** Last activity seen through the proxy or Jupyter's own report; drives idle culling. */
  @Column({ name: 'last_activity_at', type: 'timestamptz', nullable: true }) lastActivityAt!: Date | null;
  /** When the student was warned that an idle or too-old lab will be stopped. */
  @Column({ name: 'cull_warned_at', type: 'timestamptz', nullable: true }) cullWarnedAt!: Date | null;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt!: Date | null;
  @Column({ name: 'state_changed_at', type: 'timestamptz', default: () => 'now()' }) stateChangedAt!: Date;
  @Column({ name: 'ready_at', type: 'timestamptz', nullable: true }) readyAt!: Date | null;
  @Column({ name: 'stopped_at', type: 'timestamptz', nullable: true }) stoppedAt!: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

/** Every transition with its reason, so "why did my lab stop?" has an answer. */
@Entity('lab_session_events')
export class LabSessionEvent {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' }) id!: string;
  @Index('ix_lab_session_events_session')
  @Column({ name: 'session_id', type: 'uuid' })
  sessionId!: string;
  @ManyToOne(() => LabSession, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'session_id' })
  session?: LabSession;
  @Column({ name: 'from_state', type: 'enum', enum: LAB_STATES, enumName: 'lab_state', nullable: true })
  fromState!: LabState | null;
  @Column({ name: 'to_state', type: 'enum', enum: LAB_STATES, enumName: 'lab_state' }) toState!: LabState;
  @Column({ type: 'text', default: '' }) reason!: string;
  @CreateDateColumn({ name: 'at', type: 'timestamptz' }) at!: Date;
}
