import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import type { RigSample } from '../../../../spawner/src/probes/sample';
import { Rig } from '../rigs/rig.entity';

/** One probe of a rig, as it came (kept TELEMETRY_RAW_HOURS). */
@Entity('rig_samples')
@Index('ix_rig_samples_rig_at', ['rigId', 'at'])
export class RigSampleRow {
  @PrimaryGeneratedColumn('increment', { type: 'bigint', primaryKeyConstraintName: 'PK_rig_samples' }) id!: string;
  @Column({ name: 'rig_id', type: 'uuid' }) rigId!: string;
  @ManyToOne(() => Rig, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'rig_id', foreignKeyConstraintName: 'FK_rig_samples_rig' })
  rig?: Rig;
  @Column({ type: 'timestamptz' }) at!: Date;
  @Column({ type: 'jsonb' }) sample!: RigSample;
}

/**
 * Five minutes of a rig (kept TELEMETRY_ROLLUP_DAYS): every series of the bucket, by name
 * (e.g. `gpu.0.temperatureC`), as [avg, min, max, n]. One row per bucket, not per series: see the
 * migration 1765152000000 for what that saves.
 */
@Entity('rig_sample_rollups')
export class RigSampleRollup {
  @PrimaryColumn({ name: 'rig_id', type: 'uuid', primaryKeyConstraintName: 'PK_rig_sample_rollups' }) rigId!: string;
  @ManyToOne(() => Rig, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'rig_id', foreignKeyConstraintName: 'FK_rig_sample_rollups_rig' })
  rig?: Rig;
  @PrimaryColumn({ type: 'timestamptz', primaryKeyConstraintName: 'PK_rig_sample_rollups' }) bucket!: Date;
  @Column({ type: 'jsonb' }) series!: Record<string, [avg: number, min: number, max: number, n: number]>;
}
