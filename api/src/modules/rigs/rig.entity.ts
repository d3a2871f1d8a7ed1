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
import type { RigInventory } from './rig-inventory.policy';

/**
 * A rig's life (issue 9), with Slurm's meanings: only `active` takes new labs; `draining` lets running
 * labs finish (until a deadline) and takes none; `maintenance` holds no labs; `retired` is out for
 * good, its history kept. `registered` and `burn-in` come before a rig first (or again) takes work.
 * Allowed moves: rig-lifecycle.policy.ts.
 */
export const RIG_STATES = ['registered', 'burn-in', 'active', 'draining', 'maintenance', 'retired'] as const;
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
  /** Where a draining rig goes by itself once its last lab is gone (null: it stays drained). */
  @Column({ name: 'drain_target', type: 'enum', enum: RIG_STATES, enumName: 'rig_state', nullable: true })
  drainTarget!: RigState | null;
  /** When labs still running on a draining rig are stopped (files kept). */
  @Column({ name: 'drain_deadline', type: 'timestamptz', nullable: true }) drainDeadline!: Date | null;
  /** Drained by a health rule rather than a person: the rule may put it back after a clean window. */
  @Column({ name: 'drained_by_rule', type: 'boolean', default: false }) drainedByRule!: boolean;
  /** Telemetry probes that failed in a row (a rule drains the rig past RIG_PROBE_FAILURES_TO_DRAIN). */
  @Column({ name: 'probe_failures', type: 'int', default: 0 }) probeFailures!: number;
  /** The last time a health rule found something wrong with the rig as a whole. */
  @Column({ name: 'last_fault_at', type: 'timestamptz', nullable: true }) lastFaultAt!: Date | null;
  @Column({ name: 'driver_kind', type: 'enum', enum: GPU_DRIVER_KINDS, enumName: 'gpu_driver_kind', default: 'none' })
  driverKind!: GpuDriverKind;
  /** What admission may hand out on this rig, after what the host itself needs. */
  @Column({ name: 'cpu_millis', type: 'int' }) cpuMillis!: number;
  @Column({ name: 'memory_mb', type: 'int' }) memoryMb!: number;
  @Column({ name: 'last_seen_at', type: 'timestamptz', nullable: true }) lastSeenAt!: Date | null;
  @Column({ name: 'engine_version', type: 'varchar', length: 40, nullable: true }) engineVersion!: string | null;
  /** What registration (or `riglab rig inventory`) discovered through the engine; null until it answered. */
  @Column({ type: 'jsonb', nullable: true }) inventory!: RigInventory | null;
  @Column({ name: 'inventory_at', type: 'timestamptz', nullable: true }) inventoryAt!: Date | null;
  /** Capacities set by an admin ('cpus', 'memoryMb'); the others follow what discovery finds, less the host reserve. */
  @Column({ name: 'capacity_given', type: 'text', array: true, default: () => "'{cpus,memoryMb}'" })
  capacityGiven!: string[];
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
  /** Who quarantined it: 'rule' (lifted after a clean window) or a person (lifted by an admin only). */
  @Column({ name: 'quarantined_by', type: 'varchar', length: 100, nullable: true }) quarantinedBy!: string | null;
  /** The last time a health rule found something wrong with this GPU. */
  @Column({ name: 'last_fault_at', type: 'timestamptz', nullable: true }) lastFaultAt!: Date | null;
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

/** One change of a rig's state, by a person or a health rule: the rig's history (kept after retirement). */
@Entity('rig_events')
@Index('ix_rig_events_rig', ['rigId', 'at'])
export class RigEvent {
  @PrimaryGeneratedColumn('increment', { type: 'bigint', primaryKeyConstraintName: 'PK_rig_events' }) id!: string;
  @Column({ name: 'rig_id', type: 'uuid' }) rigId!: string;
  @ManyToOne(() => Rig, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'rig_id', foreignKeyConstraintName: 'FK_rig_events_rig' })
  rig?: Rig;
  @CreateDateColumn({ type: 'timestamptz' }) at!: Date;
  @Column({ name: 'from_state', type: 'enum', enum: RIG_STATES, enumName: 'rig_state', nullable: true })
  fromState!: RigState | null;
  @Column({ name: 'to_state', type: 'enum', enum: RIG_STATES, enumName: 'rig_state' }) toState!: RigState;
  @Column({ type: 'text' }) reason!: string;
  /** A username, 'cli', or 'rule:<name>' / 'system' for the portal's own decisions. */
  @Column({ type: 'varchar', length: 100 }) actor!: string;
}
