import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  Unique,
  UpdateDateColumn,
} from 'typeorm';
import { Course } from '../courses/course.entity';

/**
 * What a template asks of the GPU pool; placement honours models and driver kinds (DESIGN.md).
 * Rows written before template authoring hold `{required}` only, so a missing `mode` means 'whole'.
 */
export interface GpuPolicy {
  /** false: the lab gets no GPU ('none'). */
  required: boolean;
  /** 'whole': a slot with share 1 (one GPU); 'shared': a slot with at least minVramMb of VRAM. */
  mode?: 'whole' | 'shared';
  models?: string[];
  driverKinds?: string[];
  minVramMb?: number;
  /** At the end of a GPU slice, continue on CPU instead of stopping the lab. */
  allowCpuFallback?: boolean;
}

export type GpuMode = 'none' | 'whole' | 'shared';

/** The effective mode of a policy, reading old rows (no `mode`) as 'whole'. */
export function gpuModeOf(policy: GpuPolicy | null | undefined): GpuMode {
  if (!policy?.required) return 'none';
  return policy.mode ?? 'whole';
}

/**
 * An uploaded starter archive, already validated (starter-archive.ts), kept in Postgres so every
 * portal process can materialise it. Content-addressed: the same bytes are stored once.
 */
@Entity('starter_archives')
export class StarterArchive {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Index('uq_starter_archives_sha256', { unique: true })
  @Column({ type: 'char', length: 64 })
  sha256!: string;
  /** Size of the upload as sent. */
  @Column({ type: 'int' }) bytes!: number;
  @Column({ name: 'file_count', type: 'int' }) fileCount!: number;
  /** Size of the files once extracted. */
  @Column({ name: 'total_bytes', type: 'bigint' }) totalBytes!: string;
  /** The files as a list of {path, bytes}, for previews without reading the blob. */
  @Column({ type: 'jsonb', default: () => `'[]'` }) files!: Array<{ path: string; bytes: number }>;
  @Column({ type: 'bytea', select: false }) content!: Buffer;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

@Entity('lab_templates')
@Unique('uq_lab_templates_course_slug', ['courseId', 'slug'])
export class LabTemplate {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'course_id', type: 'uuid' }) courseId!: string;
  @ManyToOne(() => Course, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'course_id' })
  course?: Course;
  @Column({ type: 'varchar', length: 64 }) slug!: string;
  @Column({ type: 'varchar', length: 200 }) title!: string;
  @Column({ type: 'text', default: '' }) description!: string;
  @Column({ type: 'boolean', default: false }) published!: boolean;
  /** The version new launches use; older versions stay for sessions that still run them. */
  @Column({ name: 'current_version', type: 'int', nullable: true }) currentVersion!: number | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

/** Immutable once written: a new edit is a new version. */
@Entity('lab_template_versions')
@Unique('uq_lab_template_versions_template_version', ['templateId', 'version'])
export class LabTemplateVersion {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Index('ix_lab_template_versions_template')
  @Column({ name: 'template_id', type: 'uuid' })
  templateId!: string;
  @ManyToOne(() => LabTemplate, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'template_id' })
  template?: LabTemplate;
  @Column({ type: 'int' }) version!: number;
  @Column({ type: 'varchar', length: 300 }) image!: string;
  @Column({ name: 'cpu_millis', type: 'int' }) cpuMillis!: number;
  @Column({ name: 'memory_mb', type: 'int' }) memoryMb!: number;
  @Column({ name: 'pids_limit', type: 'int', default: 512 }) pidsLimit!: number;
  @Column({ name: 'gpu_policy', type: 'jsonb', default: () => `'{"required": false}'` }) gpuPolicy!: GpuPolicy;
  /** Folder of starter files, relative to course-templates/, copied into a new home once. */
  @Column({ name: 'starter_files', type: 'varchar', length: 300, nullable: true }) starterFiles!: string | null;
  @Column({ name: 'idle_timeout_s', type: 'int', default: 1800 }) idleTimeoutS!: number;
  @Column({ name: 'max_age_s', type: 'int', default: 28800 }) maxAgeS!: number;
  /** Environment variables set in the lab (names checked by templates.policy: no JUPYTER_*, RIGLAB_*). */
  @Column({ type: 'jsonb', default: () => `'{}'` }) env!: Record<string, string>;
  /** Uploaded starter files; when set they are used instead of `starterFiles`. */
  @Index('ix_lab_template_versions_starter_archive')
  @Column({ name: 'starter_archive_id', type: 'uuid', nullable: true })
  starterArchiveId!: string | null;
  @ManyToOne(() => StarterArchive, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'starter_archive_id' })
  starterArchive?: StarterArchive;
  /** Username of who wrote this version, or `cli` / `seed`. */
  @Column({ name: 'created_by', type: 'varchar', length: 100, default: 'system' }) createdBy!: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}
