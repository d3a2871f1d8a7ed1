import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Gpu, Rig } from '../rigs/rig.entity';
import type { RigReliability } from './reliability.policy';

/**
 * Probe outcomes of a rig in one hour. Down: the probe failed, or the rig was drained by a health
 * rule (out of service for a fault). Every probe bumps one row, so the table grows by one row per
 * rig per hour whatever the probe interval.
 */
@Entity('rig_availability')
export class RigAvailability {
  @PrimaryColumn({ name: 'rig_id', type: 'uuid', primaryKeyConstraintName: 'PK_rig_availability' }) rigId!: string;
  @ManyToOne(() => Rig, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'rig_id', foreignKeyConstraintName: 'FK_rig_availability_rig' })
  rig?: Rig;
  @PrimaryColumn({ type: 'timestamptz', primaryKeyConstraintName: 'PK_rig_availability' }) hour!: Date;
  @Column({ name: 'probes_up', type: 'int', default: 0 }) probesUp!: number;
  @Column({ name: 'probes_down', type: 'int', default: 0 }) probesDown!: number;
}

/** The same per GPU: down while its rig is down or while the GPU is quarantined (it takes no labs). */
@Entity('gpu_availability')
export class GpuAvailability {
  @PrimaryColumn({ name: 'gpu_id', type: 'uuid', primaryKeyConstraintName: 'PK_gpu_availability' }) gpuId!: string;
  @ManyToOne(() => Gpu, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'gpu_id', foreignKeyConstraintName: 'FK_gpu_availability_gpu' })
  gpu?: Gpu;
  @PrimaryColumn({ type: 'timestamptz', primaryKeyConstraintName: 'PK_gpu_availability' }) hour!: Date;
  @Column({ name: 'probes_up', type: 'int', default: 0 }) probesUp!: number;
  @Column({ name: 'probes_down', type: 'int', default: 0 }) probesDown!: number;
}

/**
 * What the scoring job computed last for a rig: placement reads `score` and `gpu_scores` (GPU id →
 * score) in its transaction; `view` is the whole RigReliability for /metrics. A null score means the
 * rig has too little history to be judged, and placement treats it as neutral.
 */
@Entity('rig_reliability_scores')
export class RigReliabilityScore {
  @PrimaryColumn({ name: 'rig_id', type: 'uuid', primaryKeyConstraintName: 'PK_rig_reliability_scores' })
  rigId!: string;
  @ManyToOne(() => Rig, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'rig_id', foreignKeyConstraintName: 'FK_rig_reliability_scores_rig' })
  rig?: Rig;
  @Column({ type: 'double precision', nullable: true }) score!: number | null;
  @Column({ name: 'gpu_scores', type: 'jsonb', default: () => "'{}'" }) gpuScores!: Record<string, number | null>;
  @Column({ type: 'jsonb' }) view!: RigReliability;
  @Column({ name: 'computed_at', type: 'timestamptz' }) computedAt!: Date;
}
