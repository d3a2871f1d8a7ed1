import { Column, Entity, JoinColumn, OneToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { Course } from '../courses/course.entity';
import type { QuotaCeiling, QuotaTightening } from './quota.policy';

/**
 * A course's quota: what campus IT allows (the ceiling, over the configured defaults) and what the
 * course's instructors tightened it to. The limits in force are `effectiveLimits(ceiling, tightening)`.
 */
@Entity('course_quotas')
export class CourseQuota {
  @PrimaryColumn({ name: 'course_id', type: 'uuid', primaryKeyConstraintName: 'PK_course_quotas' }) courseId!: string;
  @OneToOne(() => Course, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'course_id', foreignKeyConstraintName: 'FK_course_quotas_course' })
  course?: Course;
  @Column({ type: 'jsonb', default: () => "'{}'" }) ceiling!: Partial<QuotaCeiling>;
  @Column({ type: 'jsonb', default: () => "'{}'" }) tightening!: QuotaTightening;
  @Column({ name: 'updated_by', type: 'varchar', length: 100, default: 'system' }) updatedBy!: string;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}
