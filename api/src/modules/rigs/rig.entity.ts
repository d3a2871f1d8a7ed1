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

/** Slurm's meanings: active takes work; draining finishes running work, takes none; retired is gone. */
export const RIG_STATES = ['active', 'draining', 'retired'] as const;
export type RigState = (typeof RIG_STATES)[number];

/** How a rig hands GPUs to containers (spawner/ applies it; DESIGN.md). */
export const GPU_DRIVER_KINDS = ['nvidia', 'amd', 'devices', 'none'] as const;
export type GpuDriverKind = (typeof GPU_DRIVER_KINDS)[number];

/** Paths of the PEM files for a Docker engine reached over TCP with TLS client certificates. */
export interface RigTls {
  ca: string;
  cert: string;
  key: string;
}

@Entity('rigs')
export class Rig {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Index('uq_rigs_name', { unique: true })
  @Column({ type: 'varchar', length: 64 })
  name!: string;
  /** `unix:///path/docker.sock` or `tcp://host:2376`. */
  @Column({ name: 'docker_endpoint', type: 'varchar', length: 300 }) dockerEndpoint!: string;
  @Column({ type: 'jsonb', nullable: true }) tls!: RigTls | null;
  @Column({ type: 'enum', enum: RIG_STATES, enumName: 'rig_state', default: 'active' }) state!: RigState;
  @Column({ name: 'state_reason', type: 'text', default: '' }) stateReason!: string;
  @Column({ name: 'driver_kind', type: 'enum', enum: GPU_DRIVER_KINDS, enumName: 'gpu_driver_kind', default: 'none' })
  driverKind!: GpuDriverKind;
  /** What admission may hand out on this rig, after what the host itself needs. */
  @Column({ name: 'cpu_millis', type: 'int' }) cpuMillis!: number;
  @Column({ name: 'memory_mb', type: 'int' }) memoryMb!: number;
  @Column({ name: 'last_seen_at', type: 'timestamptz', nullable: true }) lastSeenAt!: Date | null;
  @Column({ name: 'engine_version', type: 'varchar', length: 40, nullable: true }) engineVersion!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

@Entity('gpus')
@Unique('uq_gpus_rig_index', ['rigId', 'index'])
export class Gpu {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'rig_id', type: 'uuid' }) rigId!: string;
  @ManyToOne(() => Rig, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'rig_id' })
  rig?: Rig;
  @Column({ type: 'int' }) index!: number;
  @Column({ type: 'varchar', length: 100 }) model!: string;
  @Column({ name: 'vram_mb', type: 'int' }) vramMb!: number;
  @Column({ name: 'driver_kind', type: 'enum', enum: GPU_DRIVER_KINDS, enumName: 'gpu_driver_kind' })
  driverKind!: GpuDriverKind;
  /** What the driver passes to the container: an NVIDIA UUID/index, a /dev/dri node, device paths. */
  @Column({ name: 'device_ids', type: 'text', array: true, default: () => "'{}'" }) deviceIds!: string[];
  /** Relative speed of this model: GPU-minutes are charged times this rate. */
  @Column({ type: 'numeric', precision: 6, scale: 3, default: 1 }) rate!: string;
  @Column({ type: 'boolean', default: true }) healthy!: boolean;
  @Column({ name: 'health_reason', type: 'text', default: '' }) healthReason!: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

/**
 * A share of one GPU. Reserving it sets session_id; the partial unique index on session_id and the
 * row lock taken by the reservation transaction make double booking impossible.
 */
@Entity('gpu_slots')
@Unique('uq_gpu_slots_gpu_slot', ['gpuId', 'slotIndex'])
export class GpuSlot {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'gpu_id', type: 'uuid' }) gpuId!: string;
  @ManyToOne(() => Gpu, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'gpu_id' })
  gpu?: Gpu;
  @Column({ name: 'slot_index', type: 'int' }) slotIndex!: number;
  /** Fraction of the GPU this slot stands for (1 = whole GPU). */
  @Column({ type: 'numeric', precision: 4, scale: 3, default: 1 }) share!: string;
  @Index('uq_gpu_slots_session', { unique: true, where: 'session_id IS NOT NULL' })
  @Column({ name: 'session_id', type: 'uuid', nullable: true })
  sessionId!: string | null;
  @Column({ name: 'reserved_at', type: 'timestamptz', nullable: true }) reservedAt!: Date | null;
}
