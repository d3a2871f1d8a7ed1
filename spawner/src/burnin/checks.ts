/**
 * Burn-in checks as data, and the pure decisions around them: which checks a rig gets (from what its
 * engine offers and the GPUs registered for it) and what a finished check container means. The
 * runner (burnin-runner.ts) does the Docker work; nothing here touches an engine.
 */

export type BurnInCheckStatus = 'pending' | 'running' | 'passed' | 'failed' | 'not-available';

/** A finished check: what it did and measured, or why it failed or could not run. */
export interface BurnInCheckResult {
  /** `cpu`, `memory`, `disk`, `gpu:<index>`, or `gpu` when the rig has no GPU to test. */
  name: string;
  status: 'passed' | 'failed' | 'not-available';
  detail: string;
  figures: Record<string, number>;
}

/** A GPU as registered for the rig: how the driver hands it to containers. */
export interface BurnInGpu {
  index: number;
  driver: 'nvidia' | 'amd' | 'devices' | 'none';
  /** NVIDIA index/UUID, /dev/dri render nodes, or device node paths. */
  deviceIds: string[];
}

export type PlannedCheck =
  | { name: 'cpu' | 'memory' | 'disk'; kind: 'cpu' | 'memory' | 'disk' }
  /** GPUs given as device nodes: each node must open inside a container. */
  | { name: string; kind: 'devices'; gpu: BurnInGpu }
  /** A GPU stress and memory test, run by the configured GPU burn-in image. */
  | { name: string; kind: 'gpu-image'; gpu: BurnInGpu; image: string }
  | { name: string; kind: 'not-available'; reason: string };

export interface GpuPlanInput {
  /** Runtime names from the engine's `docker info` (`Runtimes`). */
  runtimes: string[];
  /** Whether /dev/kfd (the AMD compute driver) exists on the rig; null when not asked (no AMD GPU). */
  amdKfd: boolean | null;
  gpus: BurnInGpu[];
  /** RIG_BURNIN_GPU_IMAGE, null when none is configured. */
  gpuImage: string | null;
  /** Whether that image is on the rig's engine (no registry is reachable to pull it). */
  gpuImagePresent: boolean;
}

export const gpuCheckName = (index: number) => `gpu:${index}`;

/**
 * The checks of one run: CPU, memory and disk always; then one per registered GPU, or a single `gpu`
 * when there is none. A GPU that cannot be tested here is `not-available` with the reason, so a
 * rig never passes a GPU test that did not run.
 */
export function planChecks(input: GpuPlanInput): PlannedCheck[] {
  const base: PlannedCheck[] = [
    { name: 'cpu', kind: 'cpu' },
    { name: 'memory', kind: 'memory' },
    { name: 'disk', kind: 'disk' },
  ];
  const runtimes = input.runtimes.length ? input.runtimes.join(', ') : 'none';
  if (!input.gpus.length)
    return [
      ...base,
      {
        name: 'gpu',
        kind: 'not-available',
        reason: input.runtimes.includes('nvidia')
          ? 'the engine has the NVIDIA runtime but no GPUs are registered for this rig (riglab gpu add)'
          : `no GPUs are registered for this rig and its engine has no GPU runtime (runtimes: ${runtimes})`,
      },
    ];
  const imageProblem = !input.gpuImage
    ? 'no GPU burn-in image is configured (RIG_BURNIN_GPU_IMAGE is empty)'
    : !input.gpuImagePresent
      ? `the GPU burn-in image ${input.gpuImage} is not on this rig (no registry is used: docker load it there)`
      : null;
  const gpuChecks = [...input.gpus]
    .sort((a, b) => a.index - b.index)
    .map((gpu): PlannedCheck => {
      const name = gpuCheckName(gpu.index);
      const na = (reason: string): PlannedCheck => ({ name, kind: 'not-available', reason });
      switch (gpu.driver) {
        case 'devices':
          return gpu.deviceIds.length ? { name, kind: 'devices', gpu } : na('the GPU has no device nodes registered');
        case 'none':
          return na("the GPU is registered with driver 'none': nothing hands it to containers");
        case 'nvidia':
          if (!input.runtimes.includes('nvidia'))
            return na(`the rig's engine has no NVIDIA runtime (runtimes: ${runtimes})`);
          return imageProblem ? na(imageProblem) : { name, kind: 'gpu-image', gpu, image: input.gpuImage! };
        case 'amd':
          if (input.amdKfd === false) return na('the rig has no /dev/kfd (the AMD compute driver is not loaded)');
          return imageProblem ? na(imageProblem) : { name, kind: 'gpu-image', gpu, image: input.gpuImage! };
        default: {
          const never: never = gpu.driver;
          return never;
        }
      }
    });
  return [...base, ...gpuChecks];
}

export interface CheckOutput {
  figures: Record<string, number>;
  /** The last `detail` line: what was done and measured. */
  detail: string | null;
  /** The `fail` line: why the check failed, in the check's words. */
  failure: string | null;
  /** The last line that is none of these (what a crashing tool printed), for a reason when nothing else says one. */
  lastOther: string | null;
}

/**
 * Reads a check container's output: `figure NAME NUMBER`, `detail TEXT`, `fail TEXT` lines (burnin.sh,
 * and the contract a GPU burn-in image follows). A figure that is not a finite number is dropped
 * rather than stored as garbage.
 */
export function parseCheckOutput(output: string): CheckOutput {
  const out: CheckOutput = { figures: {}, detail: null, failure: null, lastOther: null };
  for (const raw of output.split('\n')) {
    const line = raw.replace(/\r$/, '').trim();
    if (!line) continue;
    const figure = /^figure\s+([A-Za-z][A-Za-z0-9_]{0,39})\s+(\S+)$/.exec(line);
    if (figure) {
      const value = Number(figure[2]);
      if (Number.isFinite(value)) out.figures[figure[1]] = value;
      continue;
    }
    if (line.startsWith('detail ')) out.detail = line.slice(7).trim();
    else if (line.startsWith('fail ')) out.failure ??= line.slice(5).trim();
    else out.lastOther = line;
  }
  return out;
}

export interface FinishedContainer {
  output: string;
  exitCode: number | null;
  oomKilled: boolean;
  /** Killed by the runner because the check ran past its time budget. */
  timedOut: boolean;
  budgetMs: number;
  memoryLimitMb: number;
}

/** Long lines from a tool do not belong in a one-line reason. */
const clip = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** What a check container's end means: passed only on exit 0 with no `fail` line. */
export function judgeCheck(name: string, c: FinishedContainer): BurnInCheckResult {
  const o = parseCheckOutput(c.output);
  const failed = (detail: string): BurnInCheckResult => ({
    name,
    status: 'failed',
    detail: clip(detail),
    figures: o.figures,
  });
  if (c.timedOut)
    return failed(`did not finish within its time budget of ${Math.round(c.budgetMs / 100) / 10} s and was killed`);
  if (c.oomKilled) return failed(`killed for running out of memory (container limit ${c.memoryLimitMb} MiB)`);
  if (c.exitCode === 0 && !o.failure)
    return { name, status: 'passed', detail: clip(o.detail ?? 'finished without a problem'), figures: o.figures };
  if (o.failure) return failed(o.failure);
  if (c.exitCode === 137) return failed('killed (exit 137) before it finished');
  return failed(
    `exited with code ${c.exitCode ?? 'unknown'}${o.lastOther ? `: ${o.lastOther}` : ' without saying why'}`,
  );
}
