import type Docker from 'dockerode';
import {
  SpawnError,
  type LabContainer,
  type LabSpec,
  type PollResult,
  type Progress,
  type RigTarget,
  type SpawnHandle,
  type Spawner,
} from '../spawner.port';
import { APP, LABEL, LAB_PORT, containerName, createOptions, sessionLabels, validateSpec } from './container-spec';
import { describeEngineError, engineClient, EndpointError } from './engine';
import { copyStarterFiles, ensureHomeVolume } from './home-volume';
import { ensureLabNetwork, LabNetworkError, labNetworkName } from './lab-network';

export interface DockerSpawnerOptions {
  /**
   * Per-request limit towards an engine, ms (connect and idle; a pull that goes this long without a
   * word from the engine is abandoned too). A dead rig fails its callers within it. Default 30 000.
   */
  timeoutMs?: number;
  /** How long a graceful stop waits for Jupyter before the engine kills it, seconds. Default 5. */
  stopGraceSeconds?: number;
  /**
   * Numeric group ids given to AMD labs so uid 1000 may open /dev/kfd and /dev/dri/renderD* (the
   * nodes keep the host's owner and mode, usually root:render 0660 or root:video). Numbers, because
   * the names would be looked up in the image's /etc/group, not the rig's. Default: 44 (video on
   * Debian and Ubuntu). The render group's gid differs between installs: pass it here, or have the
   * rig bootstrap make the nodes 0666 (as ROCm's udev rules on many distributions do).
   */
  amdGroupIds?: string[];
}

type DockerError = Error & { statusCode?: number; json?: { message?: string } };

const CONNECTION_ERRORS = new Set([
  'ENOENT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EACCES',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

function statusOf(err: unknown): number | undefined {
  return (err as DockerError)?.statusCode;
}

/** The engine's own sentence, without dockerode's "(HTTP code 404) no such container - " prefix. */
/**
 * The engine's own words, at most 300 characters: a long message keeps its start and its end, where the
 * cause is ("…: no space left on device") — the middle is usually a long path.
 */
function engineMessage(err: unknown): string {
  const e = err as DockerError;
  const message = (e?.json?.message ?? e?.message ?? String(err)).trim();
  return message.length <= 300 ? message : `${message.slice(0, 120)} … ${message.slice(-177)}`;
}

/** The engine closed a connection in the middle of a request (not: refused it). */
function isReset(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return statusOf(err) === undefined && (e?.code === 'ECONNRESET' || /socket hang up/i.test(e?.message ?? ''));
}

function isUnreachable(err: unknown): boolean {
  if (err instanceof EndpointError) return true;
  const e = err as DockerError & { code?: string };
  return (
    statusOf(err) === undefined && (CONNECTION_ERRORS.has(e?.code ?? '') || /socket hang up/i.test(e?.message ?? ''))
  );
}

/**
 * The Spawner port on Docker engines, one per rig, reached with dockerode over a unix socket or
 * TCP+TLS. Mechanics only (DESIGN.md): every call is safe to repeat, and everything it creates is
 * labelled so the reconciler in api/ can find it. Isolation of lab containers: see lab-network.ts.
 */
export class DockerSpawner implements Spawner {
  private readonly clients = new Map<string, { key: string; docker: Docker }>();
  private readonly engineIds = new Map<string, string>();
  private readonly timeoutMs: number;
  private readonly stopGraceSeconds: number;
  private readonly amdGroupIds: string[];

  constructor(options: DockerSpawnerOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.stopGraceSeconds = options.stopGraceSeconds ?? 5;
    this.amdGroupIds = options.amdGroupIds ?? ['44'];
  }

  /**
   * Creates (or finds, for the same sessionId) and starts the lab container; resolves once it runs and
   * its address is known — NOT when Jupyter is ready: the caller checks readiness with its own timeout.
   * Reports steps through `onProgress`. Throws SpawnError with a plain reason on failure.
   */
  async start(
    rig: RigTarget,
    spec: LabSpec,
    onProgress?: (p: Progress) => void,
  ): Promise<{ handle: SpawnHandle; url: string }> {
    validateSpec(spec);
    // Each step is told once, even when the start is tried a second time.
    const said = new Set<string>();
    const report = (progress: number, message: string) => {
      if (said.has(message)) return;
      said.add(message);
      onProgress?.({ progress, message });
    };
    try {
      return await this.startOnce(rig, spec, report);
    } catch (err) {
      // A connection the engine reset mid-start ("socket hang up", seen on a busy engine): starting is
      // idempotent by name, so one more try picks up whatever the first got done.
      if (!isReset(err)) throw this.spawnError(rig, err, 'starting the lab', 'start_failed');
      await new Promise((r) => setTimeout(r, 250));
      try {
        return await this.startOnce(rig, spec, report);
      } catch (again) {
        throw this.spawnError(rig, again, 'starting the lab', 'start_failed');
      }
    }
  }

  private async startOnce(
    rig: RigTarget,
    spec: LabSpec,
    report: (progress: number, message: string) => void,
  ): Promise<{ handle: SpawnHandle; url: string }> {
    const onProgress = (p: Progress) => report(p.progress, p.message);
    const name = containerName(spec);
    const docker = this.client(rig);
    // Idempotent by name: a running container of this session is the answer as it is.
    let info = await this.inspect(docker, name);
    if (info?.State.Running) return this.running(rig, info);

    report(10, `Checking the lab image on rig ${rig.name}`);
    await this.ensureImage(rig, spec.image, onProgress);

    report(30, 'Preparing your home folder');
    await ensureHomeVolume(docker, spec.home.volume, spec.home.driverOpts, sessionLabels(spec));
    const network = await ensureLabNetwork(docker, spec.deployment, () => this.engineId(rig, docker));

    // A stopped container of this session is reused (its writable layer is the student's too),
    // unless it cannot start any more: dead, or attached to a lab network since removed.
    if (info && (info.State.Status === 'dead' || !this.onNetwork(info, network))) {
      await this.removeQuietly(docker.getContainer(info.Id));
      info = null;
    }
    let container: Docker.Container;
    if (info) {
      container = docker.getContainer(info.Id);
    } else {
      report(50, 'Creating your lab container');
      container = await this.create(docker, spec, rig, network.name);
    }

    // Before the first start, so Jupyter never shows a home half-filled; repeated on a reused
    // container it costs one request (the marker says it was done).
    if (spec.home.starterFiles) {
      report(60, 'Copying the starter files into your home folder');
      await copyStarterFiles(container, spec.home.starterFiles);
    }

    report(70, 'Starting your lab container');
    try {
      await container.start();
    } catch (err) {
      if (statusOf(err) !== 304) throw err; // 304: another start of this session got there first
    }
    info = await container.inspect();
    if (!info.State.Running) {
      throw new SpawnError(
        `the lab container stopped right after starting (${this.exitReason(info)}); see its logs on rig ${rig.name}`,
        'start_failed',
      );
    }
    return this.running(rig, info);
  }

  /** Whether the container runs. An unknown handle (container gone) is `exited`. */
  async poll(rig: RigTarget, handle: SpawnHandle): Promise<PollResult> {
    try {
      // By id, not name: a later container of the same session is another handle.
      const info = await this.inspect(this.client(rig), handle.containerId);
      if (!info) return { state: 'exited', exitCode: null, reason: 'the lab container no longer exists' };
      if (info.State.Running) return { state: 'running' };
      return {
        state: 'exited',
        exitCode: info.State.Status === 'created' ? null : info.State.ExitCode,
        reason: this.exitReason(info),
      };
    } catch (err) {
      throw this.spawnError(rig, err, 'checking the lab');
    }
  }

  /** Stops the container (gracefully unless `now`). Idempotent: a stopped or missing container is fine. */
  async stop(rig: RigTarget, handle: SpawnHandle, opts: { now?: boolean } = {}): Promise<void> {
    try {
      const container = this.client(rig).getContainer(handle.containerId);
      if (opts.now) {
        // 409: not running (already stopped).
        await container.kill().catch((err) => this.unless(err, [404, 409]));
      } else {
        // SIGTERM through tini, then SIGKILL after the grace period; 304: already stopped.
        await container.stop({ t: this.stopGraceSeconds }).catch((err) => this.unless(err, [304, 404]));
      }
    } catch (err) {
      throw this.spawnError(rig, err, 'stopping the lab');
    }
  }

  /** Removes the container, never the home volume. Idempotent: a missing container is fine. */
  async remove(rig: RigTarget, handle: SpawnHandle): Promise<void> {
    try {
      await this.removeQuietly(this.client(rig).getContainer(handle.containerId));
    } catch (err) {
      throw this.spawnError(rig, err, 'removing the lab');
    }
  }

  /** Every container of this deployment on the rig (running or not), found by label. */
  async list(rig: RigTarget, deployment: string): Promise<LabContainer[]> {
    try {
      const found = await this.client(rig).listContainers({
        all: true,
        filters: { label: [`${LABEL.app}=${APP}`, `${LABEL.deployment}=${deployment}`] },
      });
      return found.map((c) => ({
        handle: { rigId: rig.id, containerId: c.Id, containerName: (c.Names[0] ?? '').replace(/^\//, '') },
        sessionId: c.Labels[LABEL.session] ?? '',
        running: c.State === 'running' || c.State === 'paused' || c.State === 'restarting',
        labels: c.Labels,
      }));
    } catch (err) {
      throw this.spawnError(rig, err, 'listing the labs');
    }
  }

  /** Whether the rig has the image; `ensureImage` pulls it, or fails clearly when no registry is reachable. */
  async hasImage(rig: RigTarget, image: string): Promise<boolean> {
    try {
      await this.client(rig).getImage(image).inspect();
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw this.spawnError(rig, err, 'looking for the image');
    }
  }

  /** Whether the rig has the image; `ensureImage` pulls it, or fails clearly when no registry is reachable. */
  async ensureImage(rig: RigTarget, image: string, onProgress?: (p: Progress) => void): Promise<void> {
    if (await this.hasImage(rig, image)) return;
    const missing = (why: string) =>
      new SpawnError(`image ${image} is not on rig ${rig.name} and could not be pulled: ${why}`, 'image_missing');
    onProgress?.({ progress: 20, message: `Downloading the lab image to rig ${rig.name}` });
    try {
      // An engine with no registry in reach answers at once (DNS or connect error); a registry that
      // stops answering mid-pull is cut off by the client's idle timeout.
      const stream = await this.client(rig).pull(image);
      await this.followPull(stream, onProgress);
    } catch (err) {
      if (isUnreachable(err) && !(err instanceof PullError)) throw this.spawnError(rig, err, 'pulling the image');
      throw missing(engineMessage(err));
    }
    if (!(await this.hasImage(rig, image))) throw missing('the engine finished the pull without the image');
  }

  // --- internals -----------------------------------------------------------------------------

  /** One cached client per rig; rebuilt when the rig's endpoint changes. */
  private client(rig: RigTarget): Docker {
    const key = JSON.stringify(rig.endpoint);
    const cached = this.clients.get(rig.id);
    if (cached?.key === key) return cached.docker;
    const docker = engineClient(rig.endpoint, this.timeoutMs);
    this.clients.set(rig.id, { key, docker });
    this.engineIds.delete(rig.id);
    return docker;
  }

  /**
   * What tells this engine apart from any other on the same host, for lab bridge names: its data
   * root. The engine `ID` alone is not enough: it comes from /etc/docker/key.json, which every dockerd
   * on a host shares (two test rigs on one machine got the same bridge, hence the same L2 segment).
   */
  private async engineId(rig: RigTarget, docker: Docker): Promise<string> {
    let id = this.engineIds.get(rig.id);
    if (!id) {
      const info = await docker.info();
      id = `${info.ID}\n${info.DockerRootDir}`;
      this.engineIds.set(rig.id, id);
    }
    return id;
  }

  private async inspect(docker: Docker, idOrName: string): Promise<Docker.ContainerInspectInfo | null> {
    try {
      return await docker.getContainer(idOrName).inspect();
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  private async create(docker: Docker, spec: LabSpec, rig: RigTarget, network: string): Promise<Docker.Container> {
    try {
      return await docker.createContainer(createOptions(spec, { rig, network, gpuGroupIds: this.amdGroupIds }));
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
      // 409: a concurrent start of the same session got the name first; use its container. The
      // engine reserves the name before the container exists, so it may take a moment to appear.
      for (let i = 0; i < 50; i++) {
        const info = await this.inspect(docker, containerName(spec));
        if (info) return docker.getContainer(info.Id);
        await new Promise((r) => setTimeout(r, 100));
      }
      throw err;
    }
  }

  private async removeQuietly(container: Docker.Container): Promise<void> {
    // force: a running container is killed first; `v` stays false so no volume is ever removed.
    // 404: already gone; 409: a removal is already in progress.
    await container.remove({ force: true, v: false }).catch((err) => this.unless(err, [404, 409]));
  }

  private unless(err: unknown, done: number[]): void {
    if (!done.includes(statusOf(err) ?? 0)) throw err;
  }

  private onNetwork(info: Docker.ContainerInspectInfo, network: { name: string; id: string }): boolean {
    const ep = info.NetworkSettings?.Networks?.[network.name];
    // A never-started container may not know its network's id yet; its name is enough then.
    return !!ep && (!ep.NetworkID || ep.NetworkID === network.id);
  }

  private running(rig: RigTarget, info: Docker.ContainerInspectInfo): { handle: SpawnHandle; url: string } {
    const handle: SpawnHandle = { rigId: rig.id, containerId: info.Id, containerName: info.Name.replace(/^\//, '') };
    const deployment = info.Config.Labels?.[LABEL.deployment];
    if (rig.reach.mode === 'publish') {
      const binding = info.NetworkSettings.Ports?.[`${LAB_PORT}/tcp`]?.find((b) => b.HostPort);
      if (!binding) throw new SpawnError(`the lab container on rig ${rig.name} has no published port`, 'start_failed');
      const host = rig.reach.publishHost.includes(':') ? `[${rig.reach.publishHost}]` : rig.reach.publishHost;
      return { handle, url: `http://${host}:${binding.HostPort}` };
    }
    const ip = deployment ? info.NetworkSettings.Networks?.[labNetworkName(deployment)]?.IPAddress : undefined;
    if (!ip)
      throw new SpawnError(`the lab container on rig ${rig.name} has no address on its lab network`, 'start_failed');
    return { handle, url: `http://${ip}:${LAB_PORT}` };
  }

  private exitReason(info: Docker.ContainerInspectInfo): string {
    const s = info.State;
    if (s.OOMKilled) return 'out of memory: the lab used more than its memory limit';
    if (s.Status === 'created') return 'the lab container was never started';
    if (s.Error) return s.Error;
    return `exited with code ${s.ExitCode}`;
  }

  /** Reads a pull's JSON-lines stream to its end; an `error` line or a cut-off stream is a failure. */
  private followPull(stream: NodeJS.ReadableStream, onProgress?: (p: Progress) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      let buffered = '';
      let failed: string | null = null;
      const layers = new Set<string>();
      const done = new Set<string>();
      let reported = -1;
      const line = (text: string) => {
        if (!text.trim()) return;
        let msg: { status?: string; id?: string; error?: string; errorDetail?: { message?: string } };
        try {
          msg = JSON.parse(text);
        } catch {
          return;
        }
        if (msg.error) failed = msg.errorDetail?.message ?? msg.error;
        if (msg.id && msg.status === 'Pulling fs layer') layers.add(msg.id);
        if (msg.id && msg.status === 'Pull complete') done.add(msg.id);
        if (layers.size && done.size !== reported) {
          reported = done.size;
          onProgress?.({
            progress: 20 + Math.floor((9 * done.size) / layers.size),
            message: `Downloading the lab image (${done.size} of ${layers.size} parts)`,
          });
        }
      };
      stream.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        lines.forEach(line);
      });
      stream.on('end', () => {
        line(buffered);
        if (failed) reject(new PullError(failed));
        else resolve();
      });
      stream.on('error', reject);
      // Destroyed by the idle timeout before its end: the pull did not finish.
      stream.on('close', () => reject(new PullError('the engine stopped answering during the pull')));
    });
  }

  /**
   * Plain words for the caller: an engine out of reach is `engine_unreachable` on every call; any
   * other failure of `start` is `start_failed`; of the other calls, a plain Error (the port has no
   * code for them, and api/ answers 500 with its own words). Our own SpawnErrors pass unchanged.
   */
  private spawnError(rig: RigTarget, err: unknown, doing: string, code: 'start_failed' | null = null): Error {
    if (err instanceof SpawnError) return err;
    if (isUnreachable(err))
      return new SpawnError(
        `${doing} failed: the Docker engine of rig ${rig.name} is unreachable: ${describeEngineError(err)}`,
        'engine_unreachable',
      );
    const message = `${doing} failed on rig ${rig.name}: ${err instanceof LabNetworkError ? err.message : engineMessage(err)}`;
    return code ? new SpawnError(message, code) : new Error(message);
  }
}

class PullError extends Error {}
