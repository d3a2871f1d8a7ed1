/**
 * Every background job riglab runs: queue, name and payload, in one place (STYLE.md). Adding a job
 * here without exactly one handler stops the boot.
 */
export enum QueueName {
  Labs = 'labs',
  Maintenance = 'maintenance',
  Quota = 'quota',
  /** Burn-in runs take minutes each: a queue of their own so they never hold up repairs and probes. */
  BurnIn = 'burn-in',
}

export enum JobName {
  LaunchLab = 'launch-lab',
  StopLab = 'stop-lab',
  Reconcile = 'reconcile',
  CullIdle = 'cull-idle',
  ProbeRigs = 'probe-rigs',
  MeterUsage = 'meter-usage',
  DispatchGpuQueue = 'dispatch-gpu-queue',
  ContinueOnCpu = 'continue-on-cpu',
  RollupTelemetry = 'rollup-telemetry',
  ProbeTelemetry = 'probe-telemetry',
  EnforceRigDrains = 'enforce-rig-drains',
  RunBurnIn = 'run-burn-in',
  SweepBurnIns = 'sweep-burn-ins',
  ScoreRigs = 'score-rigs',
}

export type JobPayload =
  | { name: JobName.LaunchLab; data: { sessionId: string } }
  | { name: JobName.StopLab; data: { sessionId: string } }
  | { name: JobName.Reconcile; data: Record<string, never> }
  | { name: JobName.CullIdle; data: Record<string, never> }
  | { name: JobName.ProbeRigs; data: Record<string, never> }
  | { name: JobName.MeterUsage; data: Record<string, never> }
  | { name: JobName.DispatchGpuQueue; data: Record<string, never> }
  | { name: JobName.ContinueOnCpu; data: { sessionId: string } }
  | { name: JobName.RollupTelemetry; data: Record<string, never> }
  | { name: JobName.ProbeTelemetry; data: Record<string, never> }
  | { name: JobName.EnforceRigDrains; data: Record<string, never> }
  | { name: JobName.RunBurnIn; data: { runId: string } }
  | { name: JobName.SweepBurnIns; data: Record<string, never> }
  | { name: JobName.ScoreRigs; data: Record<string, never> };

export type JobData<N extends JobName> = Extract<JobPayload, { name: N }>['data'];

export const JOB_QUEUE: Record<JobName, QueueName> = {
  [JobName.LaunchLab]: QueueName.Labs,
  [JobName.StopLab]: QueueName.Labs,
  [JobName.Reconcile]: QueueName.Maintenance,
  [JobName.CullIdle]: QueueName.Maintenance,
  [JobName.ProbeRigs]: QueueName.Maintenance,
  // Metering and the GPU queue get a queue of their own: a slow reconcile must not delay a budget stop.
  [JobName.MeterUsage]: QueueName.Quota,
  [JobName.DispatchGpuQueue]: QueueName.Quota,
  [JobName.ContinueOnCpu]: QueueName.Labs,
  [JobName.RollupTelemetry]: QueueName.Maintenance,
  [JobName.ProbeTelemetry]: QueueName.Maintenance,
  [JobName.EnforceRigDrains]: QueueName.Maintenance,
  [JobName.RunBurnIn]: QueueName.BurnIn,
  [JobName.SweepBurnIns]: QueueName.Maintenance,
  [JobName.ScoreRigs]: QueueName.Maintenance,
};
