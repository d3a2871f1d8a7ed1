export type { EngineEndpoint, EngineProbe } from './docker/engine';
export { EndpointError, describeEngineError, engineClient, parseEndpoint, probeEngine } from './docker/engine';
export type {
  GpuAssignment,
  LabContainer,
  LabSpec,
  PollResult,
  Progress,
  RigTarget,
  SpawnHandle,
  Spawner,
} from './spawner.port';
export { SpawnError } from './spawner.port';
export { DockerSpawner, type DockerSpawnerOptions } from './docker/docker-spawner';
export { LAB_BRIDGE_PREFIX, labNetworkName } from './docker/lab-network';
export { containerName, LABEL as SPAWNER_LABELS } from './docker/container-spec';
export type { GpuSample, RigSample, SensorReading } from './probes/sample';
export {
  ProbeError,
  RigProber,
  type ProbeContainerConfig,
  type ProbeResult,
  type RigProberOptions,
} from './probes/rig-prober';
export { ensureProbeImage, PROBE_IMAGE_REPO, probeImageTag, probeRecipeHash } from './probes/probe-image';
export { parseProbeOutput, TelemetryParseError } from './probes/parsers';
export {
  BurnInRunner,
  BURNIN_ROLE,
  type BurnInHooks,
  type BurnInOutcome,
  type BurnInRunnerOptions,
  type BurnInSettings,
} from './burnin/burnin-runner';
export {
  gpuCheckName,
  judgeCheck,
  parseCheckOutput,
  planChecks,
  type BurnInCheckResult,
  type BurnInCheckStatus,
  type BurnInGpu,
  type PlannedCheck,
} from './burnin/checks';
export { BURNIN_IMAGE_REPO, ensureBurnInImage } from './burnin/burnin-image';
