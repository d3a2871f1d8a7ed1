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
import { User } from '../users/user.entity';

export const COURSE_ROLES = ['student', 'ta', 'instructor'] as const;
export type CourseRole = (typeof COURSE_ROLES)[number];

@Entity('courses')
@Unique('uq_courses_code_term', ['code', 'term'])
export class Course {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'varchar', length: 40 }) code!: string;
  @Column({ type: 'varchar', length: 40 }) term!: string;
  @Column({ type: 'varchar', length: 200 }) title!: string;
  @Column({ type: 'jsonb', default: () => "'{}'" }) settings!: Record<string, unknown>;
  /** Archived courses admit no launches; their history stays. */
  @Column({ name: 'archived_at', type: 'timestamptz', nullable: true }) archivedAt!: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

@Entity('enrollments')
@Unique('uq_enrollments_user_course', ['userId', 'courseId'])
export class Enrollment {
  @PrimaryGeneratedColumn('uuid') id!: string;

  @Index('ix_enrollments_user')
  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;
  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;

  @Index('ix_enrollments_course')
  @Column({ name: 'course_id', type: 'uuid' })
  courseId!: string;
  @ManyToOne(() => Course, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'course_id' })
  course?: Course;

  @Column({ type: 'enum', enum: COURSE_ROLES, enumName: 'course_role' }) role!: CourseRole;
  /** Where the membership came from: set by hand/CSV, or from SSO attributes at sign-in. */
  @Column({ type: 'varchar', length: 16, default: 'manual' }) source!: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}
