import type { EngineEndpoint } from './docker/engine';

/**
 * The Spawner port: JupyterHub's spawner contract, for any number of rigs. Mechanics only: it applies
 * what it is given (image, limits, devices, volumes, labels) and reports what is; it never decides
 * quotas, placement or timeouts — those live in api/.
 */

/** One rig as the spawner needs it. */
export interface RigTarget {
  id: string;
  name: string;
  endpoint: EngineEndpoint;
  /**
   * How the portal reaches lab containers on this rig: `bridge` = the container's own address on the
   * lab network (the portal runs on the rig's host or routes to it); `publish` = a port published on
   * `publishHost` (remote rigs over TCP).
   */
  reach: { mode: 'bridge' } | { mode: 'publish'; publishHost: string };
}

export type GpuAssignment =
  | { driver: 'nvidia'; deviceIds: string[] } // GPU indexes or UUIDs
  | { driver: 'amd'; deviceIds: string[] } // /dev/dri/renderD* nodes (plus /dev/kfd, added by the driver)
  | { driver: 'devices'; deviceIds: string[] }; // device node paths, passed through as they are

export interface LabSpec {
  /** The lab session's id; the container is named and labelled from it, so `start` is idempotent. */
  sessionId: string;
  /** Who and what, for labels (reconciliation finds containers by them). */
  owner: { username: string; course: string; template: string };
  /** Separates deployments sharing an engine (several portals, test runs): only own containers are touched. */
  deployment: string;
  image: string;
  cpuMillis: number;
  memoryMb: number;
  pidsLimit: number;
  /** Jupyter's base URL, `/user/<username>/<lab>/`. */
  baseUrl: string;
  /** Per-session random Jupyter token; passed by environment, never on the command line. */
  token: string;
  gpu: GpuAssignment | null;
  home: {
    /** Named volume mounted at the image user's home; created when missing; survives stop/start. */
    volume: string;
    /** Volume driver options (e.g. NFS: type, o, device); none = local driver. */
    driverOpts?: Record<string, string>;
    /** Absolute folder of starter files, copied into a new home once, never over the student's files. */
    starterFiles?: string | null;
  };
  env?: Record<string, string>;
}

/** Opaque to api/: stored as JSON and handed back unparsed. */
export interface SpawnHandle {
  rigId: string;
  containerId: string;
  containerName: string;
}

export interface Progress {
  /** 0-100, JupyterHub's spawn-progress shape. */
  progress: number;
  message: string;
}

export type PollResult = { state: 'running' } | { state: 'exited'; exitCode: number | null; reason: string };

export interface LabContainer {
  handle: SpawnHandle;
  sessionId: string;
  running: boolean;
  labels: Record<string, string>;
}

export interface Spawner {
  /**
   * Creates (or finds, for the same sessionId) and starts the lab container; resolves once it runs and
   * its address is known — NOT when Jupyter is ready: the caller checks readiness with its own timeout.
   * Reports steps through `onProgress`. Throws SpawnError with a plain reason on failure.
   */
  start(
    rig: RigTarget,
    spec: LabSpec,
    onProgress?: (p: Progress) => void,
  ): Promise<{ handle: SpawnHandle; url: string }>;

  /** Whether the container runs. An unknown handle (container gone) is `exited`. */
  poll(rig: RigTarget, handle: SpawnHandle): Promise<PollResult>;

  /** Stops the container (gracefully unless `now`). Idempotent: a stopped or missing container is fine. */
  stop(rig: RigTarget, handle: SpawnHandle, opts?: { now?: boolean }): Promise<void>;

  /** Removes the container, never the home volume. Idempotent: a missing container is fine. */
  remove(rig: RigTarget, handle: SpawnHandle): Promise<void>;

  /** Every container of this deployment on the rig (running or not), found by label. */
  list(rig: RigTarget, deployment: string): Promise<LabContainer[]>;

  /** Whether the rig has the image; `ensureImage` pulls it, or fails clearly when no registry is reachable. */
  hasImage(rig: RigTarget, image: string): Promise<boolean>;
  ensureImage(rig: RigTarget, image: string, onProgress?: (p: Progress) => void): Promise<void>;
}

export class SpawnError extends Error {
  constructor(
    message: string,
    readonly code: 'image_missing' | 'engine_unreachable' | 'start_failed' | 'bad_spec',
  ) {
    super(message);
  }
}
