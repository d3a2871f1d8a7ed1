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
// The fair GPU queue reads the waiting launches often.
@Index('ix_lab_sessions_gpu_queue', ['gpuQueuedAt'], { where: `state = 'queued' AND gpu_queued_at IS NOT NULL` })
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
  /** GPU-minutes promised to this lab at admission (at most one slice), so concurrent launches cannot spend them twice. */
  @Column({ name: 'gpu_reserved_minutes', type: 'numeric', precision: 14, scale: 4, default: 0 })
  gpuReservedMinutes!: string;
  /** GPU-minutes debited to the ledger for this lab so far. */
  @Column({ name: 'gpu_debited_minutes', type: 'numeric', precision: 14, scale: 4, default: 0 })
  gpuDebitedMinutes!: string;
  /** Usage up to this instant is in the ledger (null: nothing metered yet; metering starts when ready). */
  @Column({ name: 'metered_until', type: 'timestamptz', nullable: true }) meteredUntil!: Date | null;
  /** A GPU lab gives its slot back at this time (its GPU time slice). */
  @Column({ name: 'slice_ends_at', type: 'timestamptz', nullable: true }) sliceEndsAt!: Date | null;
  /** The last slice warning sent, as seconds before the end (600, 120, ...). */
  @Column({ name: 'slice_warned_s', type: 'int', nullable: true }) sliceWarnedS!: number | null;
  /** When the launch joined the fair GPU queue (every suitable slot was busy); null when not queued for a GPU. */
  @Column({ name: 'gpu_queued_at', type: 'timestamptz', nullable: true }) gpuQueuedAt!: Date | null;
  @Column({ name: 'queue_position', type: 'int', nullable: true }) queuePosition!: number | null;
  @Column({ name: 'queue_eta', type: 'timestamptz', nullable: true }) queueEta!: Date | null;
  /** Runs without its template's GPU: the GPU slice ended and the template allows going on on CPU. */
  @Column({ name: 'cpu_only', type: 'boolean', default: false }) cpuOnly!: boolean;
  /** Set when a GPU slice ends on a template that allows CPU: once stopped, the lab is started again without the GPU. */
  @Column({ name: 'continue_on_cpu', type: 'boolean', default: false }) continueOnCpu!: boolean;
  /** The GPU this lab holds (kept after the slot is freed, so its last minutes can be charged). */
  @Column({ name: 'gpu_id', type: 'uuid', nullable: true }) gpuId!: string | null;
  @Column({ name: 'gpu_model', type: 'varchar', length: 100, nullable: true }) gpuModel!: string | null;
  @Column({ name: 'gpu_share', type: 'numeric', precision: 4, scale: 3, nullable: true }) gpuShare!: string | null;
  /** GPU-minutes charged per minute of holding the slot (the course's rate for the model, else the GPU's). */
  @Column({ name: 'gpu_rate', type: 'numeric', precision: 6, scale: 3, nullable: true }) gpuRate!: string | null;
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
