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

/** What a template asks of the GPU pool; placement honours models and driver kinds (DESIGN.md). */
export interface GpuPolicy {
  required: boolean;
  models?: string[];
  driverKinds?: string[];
  minVramMb?: number;
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
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}
