import type Docker from 'dockerode';
import { SpawnError, type LabSpec, type RigTarget } from '../spawner.port';

/**
 * What a lab container looks like on Docker, as pure functions of the LabSpec: names, labels and the
 * create options. No I/O here, so every security-relevant setting is visible (and unit-tested) in
 * one place.
 */

/** The lab image's contract (course-templates/<t>/image/riglab-start): user, home, port. */
export const LAB_USER = '1000:100';
export const LAB_UID = 1000;
export const LAB_GID = 100;
export const LAB_HOME = '/home/jovyan';
export const LAB_PORT = 8888;

export const LABEL = {
  app: 'org.riglab.app',
  deployment: 'org.riglab.deployment',
  session: 'org.riglab.session',
  user: 'org.riglab.user',
  course: 'org.riglab.course',
  template: 'org.riglab.template',
} as const;
export const APP = 'riglab';

// Docker's rule for container and volume names; deployment and session ids go into names, so they
// must follow it too (a bad id is the caller's bug: refuse it instead of mangling it into a collision).
const NAME_PART = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
const RENDER_NODE = /^\/dev\/dri\/renderD\d+$/;
const DEVICE_PATH = /^\/(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9_./:-]+$/;

/** `riglab-<deployment>-<sessionId>`: deterministic, so a repeated `start` finds the same container. */
export function containerName(spec: Pick<LabSpec, 'deployment' | 'sessionId'>): string {
  return `riglab-${spec.deployment}-${spec.sessionId}`;
}

/** Labels on everything riglab creates for a session; reconciliation and clean-up find things by them. */
export function sessionLabels(spec: LabSpec): Record<string, string> {
  return {
    [LABEL.app]: APP,
    [LABEL.deployment]: spec.deployment,
    [LABEL.session]: spec.sessionId,
    [LABEL.user]: spec.owner.username,
    [LABEL.course]: spec.owner.course,
    [LABEL.template]: spec.owner.template,
  };
}

/** Refuses a spec the driver cannot apply faithfully, naming the field (code `bad_spec`). */
export function validateSpec(spec: LabSpec): void {
  const bad = (why: string): never => {
    throw new SpawnError(`lab spec: ${why}`, 'bad_spec');
  };
  if (!NAME_PART.test(spec.deployment)) bad(`deployment '${spec.deployment}' must match ${NAME_PART}`);
  if (!NAME_PART.test(spec.sessionId)) bad(`sessionId '${spec.sessionId}' must match ${NAME_PART}`);
  if (!NAME_PART.test(spec.home.volume)) bad(`home volume '${spec.home.volume}' must match ${NAME_PART}`);
  if (!spec.image) bad('image is empty');
  if (!(Number.isInteger(spec.cpuMillis) && spec.cpuMillis > 0)) bad('cpuMillis must be a positive integer');
  if (!(Number.isInteger(spec.memoryMb) && spec.memoryMb >= 6)) bad('memoryMb must be an integer of at least 6');
  if (!(Number.isInteger(spec.pidsLimit) && spec.pidsLimit > 0)) bad('pidsLimit must be a positive integer');
  if (!spec.baseUrl.startsWith('/') || !spec.baseUrl.endsWith('/'))
    bad(`baseUrl '${spec.baseUrl}' must start and end with /`);
  if (!spec.token) bad('token is empty');
  if (spec.home.starterFiles != null && !spec.home.starterFiles.startsWith('/'))
    bad('home.starterFiles must be an absolute folder');
  const gpu = spec.gpu;
  if (gpu) {
    if (gpu.deviceIds.length === 0) bad(`gpu.deviceIds is empty for driver ${gpu.driver}`);
    if (gpu.driver === 'amd')
      for (const d of gpu.deviceIds) if (!RENDER_NODE.test(d)) bad(`amd device '${d}' is not a /dev/dri/renderD* node`);
    if (gpu.driver === 'devices')
      for (const d of gpu.deviceIds) if (!DEVICE_PATH.test(d)) bad(`device '${d}' is not a plain absolute path`);
    if (gpu.driver === 'nvidia')
      for (const d of gpu.deviceIds)
        if (!/^[A-Za-z0-9-]+$/.test(d)) bad(`nvidia device '${d}' is not an index or UUID`);
  }
}

export interface CreateContext {
  rig: RigTarget;
  /** The lab network (lab-network.ts) the container joins, and nothing else. */
  network: string;
  /** Numeric gids added for AMD GPUs so uid 1000 may open /dev/kfd and render nodes (see DockerSpawnerOptions). */
  gpuGroupIds: string[];
}

const MB = 1024 * 1024;

export function createOptions(spec: LabSpec, ctx: CreateContext): Docker.ContainerCreateOptions {
  const port = `${LAB_PORT}/tcp`;
  const env: Record<string, string> = {
    ...(spec.env ?? {}),
    // Base URL and token by environment only: never on the command line, where `ps` shows them.
    RIGLAB_BASE_URL: spec.baseUrl,
    JUPYTER_TOKEN: spec.token,
  };
  const host: Docker.HostConfig = {
    // Memory == MemorySwap: no swap, so an over-limit lab is OOM-killed (reported by poll) instead of
    // thrashing a rig's small SSD.
    Memory: spec.memoryMb * MB,
    MemorySwap: spec.memoryMb * MB,
    NanoCpus: spec.cpuMillis * 1_000_000,
    PidsLimit: spec.pidsLimit,
    // tini as PID 1: signals reach Jupyter and zombies are reaped, so stop is fast.
    Init: true,
    Privileged: false,
    // Jupyter runs as uid 1000 and binds an unprivileged port: it needs no capability at all
    // (proved by the spawner tests), so none is added back.
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
    // The one mount: the home volume. No bind mounts (no host paths, never the Docker socket).
    Mounts: [{ Type: 'volume', Source: spec.home.volume, Target: LAB_HOME, ReadOnly: false }],
    NetworkMode: ctx.network,
    // Docker disables IPv6 in containers of IPv4-only networks; say so explicitly, because the lab
    // firewall is written for IPv4 and the bridge always has a link-local IPv6 address.
    Sysctls: { 'net.ipv6.conf.all.disable_ipv6': '1' },
    // The reconciler in api/ decides what happens to a dead lab; the engine never restarts it.
    RestartPolicy: { Name: 'no' },
    // A chatty notebook must not fill a rig's small disk with logs.
    LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } },
  };
  if (ctx.rig.reach.mode === 'publish') {
    // A random free port on every address of the rig; the token guards Jupyter itself.
    host.PortBindings = { [port]: [{ HostIp: '', HostPort: '' }] };
  }
  const gpu = spec.gpu;
  if (gpu?.driver === 'nvidia') {
    host.DeviceRequests = [{ Driver: 'nvidia', DeviceIDs: gpu.deviceIds, Capabilities: [['gpu']] }];
    env.NVIDIA_VISIBLE_DEVICES = gpu.deviceIds.join(',');
  } else if (gpu?.driver === 'amd') {
    // ROCm needs the compute interface (/dev/kfd) plus the assigned render nodes only, never all of /dev/dri.
    host.Devices = ['/dev/kfd', ...gpu.deviceIds].map((p) => ({
      PathOnHost: p,
      PathInContainer: p,
      CgroupPermissions: 'rwm',
    }));
    // The nodes keep the host's owner and mode (usually root:render 0660): uid 1000 needs those groups.
    if (ctx.gpuGroupIds.length) host.GroupAdd = ctx.gpuGroupIds;
  } else if (gpu?.driver === 'devices') {
    host.Devices = gpu.deviceIds.map((p) => ({ PathOnHost: p, PathInContainer: p, CgroupPermissions: 'rwm' }));
  }
  return {
    name: containerName(spec),
    Image: spec.image,
    User: LAB_USER,
    WorkingDir: LAB_HOME,
    // No Cmd: the image's CMD (/usr/local/bin/riglab-start) reads RIGLAB_BASE_URL and JUPYTER_TOKEN.
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Labels: sessionLabels(spec),
    ExposedPorts: { [port]: {} },
    HostConfig: host,
    NetworkingConfig: { EndpointsConfig: { [ctx.network]: {} } },
  };
}
