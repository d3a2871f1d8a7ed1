import type { GpuSample, RigSample } from '../../../../spawner/src/probes/sample';

// Pure rules of rig registration (issue 9): what the engine's GET /info and one telemetry probe say
// about a rig's hardware, what capacity labs get out of it, and which GPUs become slots.

/** The fields of Docker's GET /info that registration reads (the engine sends many more). */
export interface EngineInfo {
  ServerVersion?: string;
  NCPU?: number;
  MemTotal?: number;
  DockerRootDir?: string;
  OperatingSystem?: string;
  KernelVersion?: string;
  Architecture?: string;
  Runtimes?: Record<string, unknown>;
}

export interface InventoryGpu {
  index: number;
  /** NVIDIA UUID or the AMD card's PCI bus id: stable across reboots. */
  id: string;
  model: string | null;
  vramMb: number | null;
  driver: 'nvidia' | 'amd';
  driverVersion: string | null;
  pciBusId: string | null;
  pcieGen: number | null;
  pcieGenMax: number | null;
  pcieWidth: number | null;
  pcieWidthMax: number | null;
  /** What the rig's driver hands to a container for this GPU (NVIDIA UUID, AMD render node). */
  deviceIds: string[];
}

/** What a rig has, as discovered through its Docker engine (stored in rigs.inventory). */
export interface RigInventory {
  discoveredAt: string;
  engine: {
    version: string | null;
    os: string | null;
    kernel: string | null;
    architecture: string | null;
    dockerRootDir: string | null;
    runtimes: string[];
  };
  cpus: number | null;
  memoryMb: number | null;
  diskTotalMb: number | null;
  diskFreeMb: number | null;
  gpus: InventoryGpu[];
  /** What could not be read, in plain words ("telemetry probe: ...", "nvidia-smi: not installed"). */
  notAvailable: Array<{ source: string; why: string }>;
}

const MIB = 1024 * 1024;

/**
 * AMD render nodes are numbered from 128 in card order (the DRM minor of cardN is N, of its render
 * node 128 + N), which is how amdgpu creates them on a rig without other DRM devices.
 */
export const amdRenderNode = (cardIndex: number) => `/dev/dri/renderD${128 + cardIndex}`;

function inventoryGpu(g: GpuSample): InventoryGpu {
  return {
    index: g.index,
    id: g.id,
    model: g.model,
    vramMb: g.memoryTotalMb,
    driver: g.driver,
    driverVersion: g.driverVersion,
    pciBusId: g.pciBusId,
    pcieGen: g.pcieGen,
    pcieGenMax: g.pcieGenMax,
    pcieWidth: g.pcieWidth,
    pcieWidthMax: g.pcieWidthMax,
    deviceIds: g.driver === 'nvidia' ? [g.id] : [amdRenderNode(g.index)],
  };
}

/**
 * The inventory from the engine's own account (CPUs, memory, Docker) and, when the probe ran, its
 * sample (disk of the data root, GPUs). The engine's figures win for CPUs and memory: they are what
 * containers get; the probe's are used when the engine leaves them out.
 */
export function inventoryOf(
  info: EngineInfo,
  sample: RigSample | null,
  probeProblem: string | null,
  at: Date,
): RigInventory {
  const notAvailable = [...(sample?.notAvailable ?? [])];
  if (probeProblem) notAvailable.unshift({ source: 'telemetry probe', why: probeProblem });
  const memFromEngine = typeof info.MemTotal === 'number' && info.MemTotal > 0 ? Math.floor(info.MemTotal / MIB) : null;
  return {
    discoveredAt: at.toISOString(),
    engine: {
      version: info.ServerVersion ?? null,
      os: info.OperatingSystem ?? null,
      kernel: info.KernelVersion ?? null,
      architecture: info.Architecture ?? null,
      dockerRootDir: info.DockerRootDir ?? null,
      runtimes: Object.keys(info.Runtimes ?? {}).sort(),
    },
    cpus: typeof info.NCPU === 'number' && info.NCPU > 0 ? info.NCPU : (sample?.cpus ?? null),
    memoryMb: memFromEngine ?? sample?.memoryTotalMb ?? null,
    diskTotalMb: sample?.diskTotalMb ?? null,
    diskFreeMb: sample?.diskFreeMb ?? null,
    gpus: (sample?.gpus ?? []).map(inventoryGpu).sort((a, b) => a.index - b.index),
    notAvailable,
  };
}

export interface HostReserve {
  cpus: number;
  memoryMb: number;
}

/** Smallest capacity a rig is given, so a tiny rig still takes one small lab rather than none. */
export const MIN_CPUS = 1;
export const MIN_MEMORY_MB = 256;

/**
 * What labs may use: what the admin gave, else what was discovered less what the host itself keeps
 * (Docker, the kernel, the probe), never below one CPU and 256 MiB. Null where neither is known.
 */
export function capacityOf(
  given: { cpus?: number; memoryMb?: number },
  inventory: Pick<RigInventory, 'cpus' | 'memoryMb'> | null,
  reserve: HostReserve,
): { cpus: number | null; memoryMb: number | null } {
  const cpus = given.cpus ?? (inventory?.cpus ? Math.max(MIN_CPUS, Math.floor(inventory.cpus - reserve.cpus)) : null);
  const memoryMb =
    given.memoryMb ??
    (inventory?.memoryMb ? Math.max(MIN_MEMORY_MB, Math.floor(inventory.memoryMb - reserve.memoryMb)) : null);
  return { cpus, memoryMb };
}

/** A discovered GPU as a gpus row, or why it cannot be one. */
export type GpuPlan =
  | { ok: true; index: number; model: string; vramMb: number; driver: 'nvidia' | 'amd'; deviceIds: string[] }
  | { ok: false; index: number; why: string };

/**
 * GPUs to register: each discovered GPU whose index is not registered yet, with one slot (one
 * student per GPU, the safe default on x1 risers). A GPU whose VRAM the driver does not report
 * cannot be matched against templates' VRAM needs, so it is left out with the reason.
 */
export function gpusToRegister(inventory: Pick<RigInventory, 'gpus'>, registered: number[]): GpuPlan[] {
  const have = new Set(registered);
  return inventory.gpus
    .filter((g) => !have.has(g.index))
    .map((g): GpuPlan => {
      if (g.vramMb === null || g.vramMb < 256)
        return { ok: false, index: g.index, why: `GPU ${g.index}: its VRAM is not reported, so it is not registered` };
      if (g.index > 63) return { ok: false, index: g.index, why: `GPU ${g.index}: index above 63 is not supported` };
      return {
        ok: true,
        index: g.index,
        model: (g.model ?? '').trim() || `${g.driver === 'nvidia' ? 'NVIDIA' : 'AMD'} GPU`,
        vramMb: g.vramMb,
        driver: g.driver,
        deviceIds: g.deviceIds,
      };
    });
}

/** How the rig hands GPUs to containers, from what was found: NVIDIA's runtime first, then AMD's nodes. */
export function driverKindOf(inventory: Pick<RigInventory, 'gpus'> | null): 'nvidia' | 'amd' | 'none' {
  const gpus = inventory?.gpus ?? [];
  if (gpus.some((g) => g.driver === 'nvidia')) return 'nvidia';
  if (gpus.some((g) => g.driver === 'amd')) return 'amd';
  return 'none';
}
