import type Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { describeEngineError, EndpointError, engineClient } from '../docker/engine';
import type { RigTarget } from '../spawner.port';
import { parseProbeOutput, TelemetryParseError } from './parsers';
import { DEFAULT_BUSYBOX, ensureProbeImage, ProbeImageError } from './probe-image';
import type { RigSample } from './sample';

export interface RigProberOptions {
  /** Per-request limit towards the engine, ms (a dead rig fails within it). Default 10 000. */
  timeoutMs?: number;
  /** How long the probe container may run before it is killed and read as far as it got, ms. Default 5 000. */
  budgetMs?: number;
  /** The static busybox the probe image is made of, on the portal host. Default /bin/busybox. */
  busyboxPath?: string;
}

/** What the probe container ran under, as the engine reported it before the container was removed. */
export interface ProbeContainerConfig {
  readonlyRootfs: boolean;
  networkMode: string;
  capDrop: string[];
  capAdd: string[];
  privileged: boolean;
  securityOpt: string[];
  user: string;
  memoryBytes: number;
  pidsLimit: number | null;
  binds: string[];
  /** Host devices passed in: the BMC's /dev/ipmi0 on a rig that has one. */
  devices: string[];
  gpusRequested: boolean;
}

export interface ProbeResult {
  sample: RigSample;
  /** From container create to its output read, ms (image import excluded). */
  wallMs: number;
  image: string;
  /** The probe's raw output, for a reader who doubts a parsed value. */
  output: string;
  container: ProbeContainerConfig;
}

export class ProbeError extends Error {
  constructor(
    message: string,
    readonly code: 'engine_unreachable' | 'image_missing' | 'probe_failed',
  ) {
    super(message);
  }
}

/** Where the engine's data root is mounted in the probe, for `df`. */
const DATA_ROOT_MOUNT = '/rig/data-root';
const MIB = 1024 * 1024;
/** The IPMI device of a board with a BMC (the kernel's ipmi_devintf). */
const IPMI_DEVICE = '/dev/ipmi0';
/** A BMC driver loaded later is found within this long. */
const BMC_RECHECK_MS = 6 * 3_600_000;

/**
 * Reads a rig's hardware through its Docker engine: one short-lived container of the probe image
 * (read-only root, no network, all capabilities dropped, nobody, small memory and pid limits) that
 * prints what the hardware offers; the parsers turn it into a RigSample. It reports and decides
 * nothing: thresholds and health belong to the API.
 *
 * Disk: the engine's scratch directory DockerRootDir/tmp (from GET /info) is bind-mounted read-only
 * and measured with `df`: the free space where images and containers live, as the rig sees it,
 * without showing the probe the containers' or volumes' files.
 * Kernel log: the probe runs as root with CAP_SYSLOG as its only capability — what `dmesg` needs to
 * show NVIDIA's Xid errors — and otherwise as locked down as before (read-only, no network).
 * GPUs: on an engine with the NVIDIA runtime the probe asks for all GPUs with the `utility`
 * capability only, which is what makes the runtime mount nvidia-smi into it.
 */
export class RigProber {
  private readonly timeoutMs: number;
  private readonly budgetMs: number;
  private readonly busyboxPath: string;

  /** Rigs whose engine said they have no BMC device, and when: asked again after BMC_RECHECK_MS. */
  private readonly withoutBmc = new Map<string, number>();

  constructor(opts: RigProberOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.budgetMs = opts.budgetMs ?? 5_000;
    this.busyboxPath = opts.busyboxPath ?? DEFAULT_BUSYBOX;
  }

  /**
   * `previousKernelLog`: where this rig's previous sample read the kernel log up to (its
   * `kernelLog`), so that only newer Xids are reported; null reports every Xid since boot.
   */
  private mayHaveBmc(rigId: string): boolean {
    const since = this.withoutBmc.get(rigId);
    return since === undefined || Date.now() - since > BMC_RECHECK_MS;
  }

  async probe(rig: RigTarget, previousKernelLog: RigSample['kernelLog'] = null): Promise<ProbeResult> {
    let docker: Docker;
    try {
      docker = engineClient(rig.endpoint, this.timeoutMs);
    } catch (err) {
      if (err instanceof EndpointError) throw new ProbeError(`rig ${rig.name}: ${err.message}`, 'engine_unreachable');
      throw err;
    }
    const engine = (what: string) => (err: unknown) => {
      if (err instanceof ProbeError) throw err;
      if (err instanceof ProbeImageError) throw new ProbeError(`rig ${rig.name}: ${err.message}`, 'image_missing');
      throw new ProbeError(`rig ${rig.name}: ${what}: ${describeEngineError(err)}`, 'engine_unreachable');
    };
    const info = await docker.info().catch(engine('asking the engine for its data root'));
    const image = await ensureProbeImage(docker, this.busyboxPath).catch(engine('making the probe image'));
    const gpus = Boolean((info.Runtimes as Record<string, unknown> | undefined)?.nvidia);

    const started = performance.now();
    const create = (bmc: boolean) =>
      docker.createContainer({
        name: `riglab-probe-${rig.id.replace(/[^a-zA-Z0-9_.-]/g, '-').slice(0, 40)}-${randomBytes(4).toString('hex')}`,
        Image: image,
        Cmd: ['/bin/sh', '/probe.sh'],
        // Root only for dmesg (CAP_SYSLOG below); every other capability is dropped.
        User: '0:0',
        // A TTY gives one plain stream to read (no stdout/stderr multiplexing); the script sends nothing to stderr.
        Tty: true,
        NetworkDisabled: true,
        Labels: { 'org.riglab.role': 'probe', 'org.riglab.rig': rig.id },
        Env: gpus ? ['NVIDIA_DRIVER_CAPABILITIES=utility', 'LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu:/usr/lib64'] : [],
        HostConfig: {
          ReadonlyRootfs: true,
          NetworkMode: 'none',
          CapDrop: ['ALL'],
          CapAdd: ['SYSLOG'],
          SecurityOpt: ['no-new-privileges'],
          Privileged: false,
          Memory: 32 * MIB,
          MemorySwap: 32 * MIB,
          PidsLimit: 64,
          NanoCpus: 500_000_000,
          Binds: info.DockerRootDir ? [`${info.DockerRootDir}/tmp:${DATA_ROOT_MOUNT}:ro`] : [],
          // The BMC's device where the rig has one, for ipmitool (tried until the engine says it has none).
          Devices: bmc ? [{ PathOnHost: IPMI_DEVICE, PathInContainer: IPMI_DEVICE, CgroupPermissions: 'rw' }] : [],
          DeviceRequests: gpus ? [{ Driver: 'nvidia', Count: -1, Capabilities: [['gpu', 'utility']] }] : [],
          // Removed by us after its output is read (AutoRemove would race the log read).
          AutoRemove: false,
        },
      });
    const bmc = this.mayHaveBmc(rig.id);
    let container = await create(bmc).catch(engine('creating the probe container'));
    try {
      const failed = await container.start().then(
        () => null,
        (err: unknown) => err,
      );
      if (failed && bmc && describeEngineError(failed).includes(IPMI_DEVICE)) {
        // "error gathering device information ... /dev/ipmi0": no BMC here. Probe without, and do not
        // ask again for a while.
        this.withoutBmc.set(rig.id, Date.now());
        await container.remove({ force: true }).catch(() => undefined);
        container = await create(false).catch(engine('creating the probe container'));
        await container.start().catch(engine('starting the probe container'));
      } else if (failed) engine('starting the probe container')(failed);
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        container.wait().then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.budgetMs))),
      ]).finally(() => clearTimeout(timer));
      if (!finished) await container.kill().catch(() => undefined);
      const logs = (await container
        .logs({ stdout: true, stderr: true, follow: false })
        .catch(engine('reading the probe output'))) as unknown as Buffer;
      const output = Buffer.isBuffer(logs) ? logs.toString('utf8') : String(logs);
      const inspected = await container.inspect().catch(engine('inspecting the probe container'));
      const wallMs = Math.round(performance.now() - started);
      let sample: RigSample;
      try {
        sample = parseProbeOutput(output, new Date().toISOString(), previousKernelLog);
      } catch (err) {
        if (!(err instanceof TelemetryParseError)) throw err;
        throw new ProbeError(`rig ${rig.name}: the probe printed nothing usable (${err.message})`, 'probe_failed');
      }
      const hc = inspected.HostConfig;
      return {
        sample,
        wallMs,
        image,
        output,
        container: {
          readonlyRootfs: Boolean(hc.ReadonlyRootfs),
          networkMode: hc.NetworkMode ?? '',
          capDrop: hc.CapDrop ?? [],
          capAdd: hc.CapAdd ?? [],
          privileged: Boolean(hc.Privileged),
          securityOpt: hc.SecurityOpt ?? [],
          user: inspected.Config.User,
          memoryBytes: hc.Memory ?? 0,
          pidsLimit: hc.PidsLimit ?? null,
          binds: hc.Binds ?? [],
          devices: (hc.Devices ?? []).map((d: { PathOnHost: string }) => d.PathOnHost),
          gpusRequested: (hc.DeviceRequests ?? []).length > 0,
        },
      };
    } finally {
      await container.remove({ force: true }).catch(() => undefined);
    }
  }
}
