import type Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { describeEngineError, EndpointError, engineClient } from '../docker/engine';
import { DEFAULT_BUSYBOX } from '../probes/probe-image';
import type { RigTarget } from '../spawner.port';
import { BurnInImageError, ensureBurnInImage } from './burnin-image';
import {
  type BurnInCheckResult,
  type BurnInGpu,
  gpuCheckName,
  judgeCheck,
  type PlannedCheck,
  planChecks,
} from './checks';

export interface BurnInSettings {
  /** How long every CPU of the rig hashes (RIG_BURNIN_CPU_SECONDS); also what a GPU image is asked to run. */
  cpuSeconds: number;
  /** MiB of pattern written and verified in memory (RIG_BURNIN_MEMORY_MB). */
  memoryMb: number;
  /** MiB written to, synced and read back from a scratch volume (RIG_BURNIN_DISK_MB). */
  diskMb: number;
  /** The GPU stress/memory test image (RIG_BURNIN_GPU_IMAGE); null = GPU checks not available. */
  gpuImage: string | null;
  /** The longest one check container may run before it is killed and the check failed. */
  checkTimeoutMs: number;
}

export interface BurnInRunnerOptions {
  /** Separates deployments sharing an engine: only this deployment's leftovers are cleaned up. */
  deployment: string;
  /** Per-request limit towards the engine, ms. Default 10 000. */
  timeoutMs?: number;
  /** The static busybox the burn-in image is made of, on the portal host. */
  busyboxPath?: string;
}

/** Told of a run's progress; each hook is awaited, so what it stores is there before the next step. */
export interface BurnInHooks {
  /** The checks the run will make, in order, before the first starts. */
  planned?(names: string[]): Promise<void>;
  started?(name: string): Promise<void>;
  finished?(result: BurnInCheckResult): Promise<void>;
  /** Asked before each check: false stops the run there (the rig left burn-in, say). */
  proceed?(): Promise<boolean>;
}

export interface BurnInOutcome {
  results: BurnInCheckResult[];
  /** True when `proceed` stopped the run before every check ran. */
  stopped: boolean;
}

const MIB = 1024 * 1024;
/** The burn-in label value, on every container and volume a run makes (so leftovers can be found). */
export const BURNIN_ROLE = 'burn-in';
/** Inside the container a `timeout` fences the script a little after the runner's own budget: a
 * container whose engine connection was lost still stops by itself. */
const FENCE_EXTRA_S = 5;
/** How often a running check container is looked at. */
const POLL_MS = 250;

class EngineGone extends Error {}

/**
 * Runs a rig's burn-in self-test as short containers through its Docker engine: all CPUs hashing
 * the same data (every sum must agree), a memory pattern written and verified inside a memory-limited
 * container, a disk write/sync/read-back on a scratch volume of the engine's data root, and per GPU a
 * device-node check or the configured GPU stress image. Every container: no network, all
 * capabilities dropped, no-new-privileges, memory and pid limits, a time budget, labelled
 * org.riglab.role=burn-in, and removed afterwards (leftovers of an interrupted run are removed when
 * the next run starts). It decides nothing about the rig: the API reads the results.
 */
export class BurnInRunner {
  private readonly timeoutMs: number;
  private readonly busyboxPath: string;

  constructor(private readonly opts: BurnInRunnerOptions) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.busyboxPath = opts.busyboxPath ?? DEFAULT_BUSYBOX;
  }

  /** The checks a run would make without asking the engine (for a run's first view, before it starts). */
  static expectedChecks(gpus: BurnInGpu[]): string[] {
    return ['cpu', 'memory', 'disk', ...(gpus.length ? gpus.map((g) => gpuCheckName(g.index)) : ['gpu'])];
  }

  async run(
    rig: RigTarget,
    settings: BurnInSettings,
    gpus: BurnInGpu[],
    runId: string,
    hooks: BurnInHooks = {},
  ): Promise<BurnInOutcome> {
    const results: BurnInCheckResult[] = [];
    const prepared = await this.prepare(rig, settings, gpus, runId);
    if (!prepared.ok) {
      // The engine (or the image) is not there: every check fails with that reason, none is skipped silently.
      const names = BurnInRunner.expectedChecks(gpus);
      await hooks.planned?.(names);
      for (const name of names) {
        const r: BurnInCheckResult = { name, status: 'failed', detail: prepared.reason, figures: {} };
        await hooks.finished?.(r);
        results.push(r);
      }
      return { results, stopped: false };
    }
    const { docker, image, ncpu, checks } = prepared;
    await hooks.planned?.(checks.map((c) => c.name));
    for (const check of checks) {
      if (hooks.proceed && !(await hooks.proceed())) return { results, stopped: true };
      await hooks.started?.(check.name);
      let result: BurnInCheckResult;
      try {
        result = await this.runCheck(docker, rig, runId, check, settings, image, ncpu);
      } catch (err) {
        result = {
          name: check.name,
          status: 'failed',
          detail: err instanceof EngineGone ? err.message : `could not run: ${describeEngineError(err)}`,
          figures: {},
        };
      }
      await hooks.finished?.(result);
      results.push(result);
    }
    return { results, stopped: false };
  }

  private async prepare(
    rig: RigTarget,
    settings: BurnInSettings,
    gpus: BurnInGpu[],
    runId: string,
  ): Promise<
    { ok: true; docker: Docker; image: string; ncpu: number; checks: PlannedCheck[] } | { ok: false; reason: string }
  > {
    let docker: Docker;
    try {
      docker = engineClient(rig.endpoint, this.timeoutMs);
    } catch (err) {
      if (err instanceof EndpointError)
        return { ok: false, reason: `the rig's endpoint is not usable: ${err.message}` };
      throw err;
    }
    let info: { NCPU?: number; Runtimes?: Record<string, unknown> };
    try {
      info = await docker.info();
    } catch (err) {
      return { ok: false, reason: `the rig's engine does not answer: ${describeEngineError(err)}` };
    }
    await this.removeLeftovers(docker, rig).catch(() => undefined);
    let image: string;
    try {
      image = await ensureBurnInImage(docker, this.busyboxPath);
    } catch (err) {
      return {
        ok: false,
        reason:
          err instanceof BurnInImageError
            ? err.message
            : `the burn-in image could not be put on the rig: ${describeEngineError(err)}`,
      };
    }
    const gpuImagePresent = settings.gpuImage
      ? await docker
          .getImage(settings.gpuImage)
          .inspect()
          .then(() => true)
          .catch(() => false)
      : false;
    const amdKfd = gpus.some((g) => g.driver === 'amd') ? await this.hasKfd(docker, image, rig, runId) : null;
    const checks = planChecks({
      runtimes: Object.keys(info.Runtimes ?? {}),
      amdKfd,
      gpus,
      gpuImage: settings.gpuImage,
      gpuImagePresent,
    });
    return { ok: true, docker, image, ncpu: Math.max(1, info.NCPU ?? 1), checks };
  }

  /** Containers and volumes an earlier, interrupted run of this deployment left on the rig. */
  private async removeLeftovers(docker: Docker, rig: RigTarget): Promise<void> {
    const filters = JSON.stringify({
      label: [
        `org.riglab.role=${BURNIN_ROLE}`,
        `org.riglab.rig=${rig.id}`,
        `org.riglab.deployment=${this.opts.deployment}`,
      ],
    });
    for (const c of await docker.listContainers({ all: true, filters }))
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined);
    for (const v of (await docker.listVolumes({ filters })).Volumes ?? [])
      await docker
        .getVolume(v.Name)
        .remove({ force: true })
        .catch(() => undefined);
  }

  /** Whether /dev/kfd exists on the rig: a container asking for it cannot be created without it. */
  private async hasKfd(docker: Docker, image: string, rig: RigTarget, runId: string): Promise<boolean> {
    try {
      const r = await this.runContainer(docker, rig, runId, 'amd-kfd', 10_000, {
        Image: image,
        Cmd: ['sh', '-c', ':'],
        HostConfig: { Devices: [{ PathOnHost: '/dev/kfd', PathInContainer: '/dev/kfd', CgroupPermissions: 'rw' }] },
      });
      return r.exitCode === 0;
    } catch {
      return false;
    }
  }

  private async runCheck(
    docker: Docker,
    rig: RigTarget,
    runId: string,
    check: PlannedCheck,
    s: BurnInSettings,
    image: string,
    ncpu: number,
  ): Promise<BurnInCheckResult> {
    if (check.kind === 'not-available')
      return { name: check.name, status: 'not-available', detail: check.reason, figures: {} };
    const budgetMs = s.checkTimeoutMs;
    const fence = ['timeout', '-s', 'KILL', String(Math.ceil(budgetMs / 1000) + FENCE_EXTRA_S)];
    const script = (...args: Array<string | number>) => [...fence, 'sh', '/burnin.sh', ...args.map(String)];
    const judge = async (memoryLimitMb: number, spec: Docker.ContainerCreateOptions) => {
      const r = await this.runContainer(docker, rig, runId, check.name, budgetMs, spec);
      return judgeCheck(check.name, { ...r, budgetMs, memoryLimitMb });
    };
    switch (check.kind) {
      case 'cpu':
        // Every CPU the engine reports, each hashing the same 4 MiB: NanoCpus lets them all run.
        return judge(64, {
          Image: image,
          Cmd: script('cpu', s.cpuSeconds, ncpu),
          HostConfig: {
            Memory: 64 * MIB,
            NanoCpus: ncpu * 1e9,
            PidsLimit: 32 + ncpu * 4,
            Tmpfs: { '/tmp': 'size=16m' },
          },
        });
      case 'memory': {
        // The pattern lives in a tmpfs, which is charged to the container's memory: the limit (no
        // swap) holds the pattern plus a margin for the shell, so the test cannot take the host's memory.
        const limitMb = s.memoryMb + 48;
        return judge(limitMb, {
          Image: image,
          Cmd: script('memory', s.memoryMb),
          HostConfig: {
            Memory: limitMb * MIB,
            PidsLimit: 32,
            Tmpfs: { '/tmp': 'size=8m', '/mem': `size=${s.memoryMb + 1}m` },
          },
        });
      }
      case 'disk': {
        // A named local volume lives under the engine's data root: the disk images and homes use.
        const volume = `riglab-burnin-${randomBytes(6).toString('hex')}`;
        await docker
          .createVolume({ Name: volume, Labels: this.labels(rig, runId, check.name) })
          .catch((err: unknown) => {
            throw new EngineGone(
              `the rig's engine failed while creating the scratch volume: ${describeEngineError(err)}`,
            );
          });
        try {
          return await judge(64, {
            Image: image,
            Cmd: script('disk', s.diskMb),
            HostConfig: {
              Memory: 64 * MIB,
              PidsLimit: 32,
              Tmpfs: { '/tmp': 'size=8m' },
              Mounts: [{ Type: 'volume', Source: volume, Target: '/scratch' }],
            },
          });
        } finally {
          await docker
            .getVolume(volume)
            .remove({ force: true })
            .catch(() => undefined);
        }
      }
      case 'devices':
        return judge(32, {
          Image: image,
          Cmd: script('devices', ...check.gpu.deviceIds),
          HostConfig: {
            Memory: 32 * MIB,
            PidsLimit: 16,
            Devices: check.gpu.deviceIds.map((d) => ({ PathOnHost: d, PathInContainer: d, CgroupPermissions: 'rw' })),
          },
        });
      case 'gpu-image': {
        // The image's own command runs the stress and memory test and reports in burnin.sh's
        // format (figure/detail/fail lines, exit 0 = passed); riglab only hands it one GPU.
        const g = check.gpu;
        const env = [`RIGLAB_BURNIN_SECONDS=${s.cpuSeconds}`, `RIGLAB_BURNIN_GPU_INDEX=${g.index}`];
        const gpuHost: Docker.HostConfig =
          g.driver === 'nvidia'
            ? {
                DeviceRequests: [
                  {
                    Driver: 'nvidia',
                    DeviceIDs: [g.deviceIds[0] ?? String(g.index)],
                    Capabilities: [['gpu', 'compute', 'utility']],
                  },
                ],
              }
            : {
                Devices: ['/dev/kfd', ...g.deviceIds].map((d) => ({
                  PathOnHost: d,
                  PathInContainer: d,
                  CgroupPermissions: 'rw',
                })),
              };
        return judge(2048, {
          Image: check.image,
          Env: env,
          HostConfig: {
            Memory: 2048 * MIB,
            PidsLimit: 256,
            ReadonlyRootfs: false,
            Tmpfs: { '/tmp': 'size=256m' },
            ...gpuHost,
          },
        });
      }
      default: {
        const never: never = check;
        return never;
      }
    }
  }

  private labels(rig: RigTarget, runId: string, check: string): Record<string, string> {
    return {
      'org.riglab.role': BURNIN_ROLE,
      'org.riglab.rig': rig.id,
      'org.riglab.deployment': this.opts.deployment,
      'org.riglab.burn-in.run': runId,
      'org.riglab.burn-in.check': check,
    };
  }

  /**
   * Creates, starts and watches one locked-down container, kills it past `budgetMs`, reads its
   * output and how it ended, and always removes it. Engine trouble is an EngineGone with the reason.
   */
  private async runContainer(
    docker: Docker,
    rig: RigTarget,
    runId: string,
    check: string,
    budgetMs: number,
    spec: Docker.ContainerCreateOptions,
  ): Promise<{ output: string; exitCode: number | null; oomKilled: boolean; timedOut: boolean }> {
    const gone = (what: string) => (err: unknown) => {
      throw new EngineGone(`the rig's engine failed while ${what}: ${describeEngineError(err)}`);
    };
    const hc = spec.HostConfig ?? {};
    const container = await docker
      .createContainer({
        ...spec,
        name: `riglab-burnin-${check.replace(/[^a-zA-Z0-9_.-]/g, '-')}-${randomBytes(4).toString('hex')}`,
        // Root only so a fresh volume (owned by root) is writable; every capability is dropped.
        User: '0:0',
        // A TTY gives one plain stream to read (no stdout/stderr multiplexing).
        Tty: true,
        NetworkDisabled: true,
        Labels: this.labels(rig, runId, check),
        HostConfig: {
          ...hc,
          // The burn-in image writes only to its tmpfs and volume; a GPU image may need its own layer.
          ReadonlyRootfs: hc.ReadonlyRootfs ?? true,
          NetworkMode: 'none',
          CapDrop: ['ALL'],
          SecurityOpt: ['no-new-privileges'],
          Privileged: false,
          // No swap: the memory check must measure RAM, and a runaway check cannot page the host.
          MemorySwap: hc.Memory,
          // Removed by us after its output is read (AutoRemove would race the log read).
          AutoRemove: false,
        },
      })
      .catch(gone('creating the check container'));
    try {
      await container.start().catch(gone('starting the check container'));
      // Polled rather than waited for: Docker's wait answers its headers at once and the body at
      // the exit, so an engine lost in between leaves a wait that never settles. Each inspect is a
      // short request that fails fast when the engine is gone.
      const deadline = Date.now() + budgetMs;
      let finished = false;
      for (;;) {
        const state = (await container.inspect().catch(gone('waiting for the check to finish'))).State;
        if (!state.Running) {
          finished = true;
          break;
        }
        if (Date.now() >= deadline) break;
        await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
      }
      if (!finished) {
        await container.kill().catch(() => undefined);
        for (let i = 0; i < 20 && (await container.inspect().catch(gone('stopping the check'))).State.Running; i++)
          await new Promise((r) => setTimeout(r, 100));
      }
      const logs = (await container
        .logs({ stdout: true, stderr: true, follow: false })
        .catch(gone('reading the check output'))) as unknown as Buffer;
      const state = (await container.inspect().catch(gone('inspecting the check container'))).State;
      return {
        output: Buffer.isBuffer(logs) ? logs.toString('utf8') : String(logs),
        exitCode: typeof state.ExitCode === 'number' ? state.ExitCode : null,
        oomKilled: Boolean(state.OOMKilled),
        timedOut: !finished,
      };
    } finally {
      await container.remove({ force: true }).catch(() => undefined);
    }
  }
}
