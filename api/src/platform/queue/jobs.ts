/**
 * Every background job riglab runs: queue, name and payload, in one place (STYLE.md). Adding a job
 * here without exactly one handler stops the boot.
 */
export enum QueueName {
  Labs = 'labs',
  Maintenance = 'maintenance',
}

export enum JobName {
  LaunchLab = 'launch-lab',
  StopLab = 'stop-lab',
  Reconcile = 'reconcile',
  CullIdle = 'cull-idle',
  ProbeRigs = 'probe-rigs',
}

export type JobPayload =
  | { name: JobName.LaunchLab; data: { sessionId: string } }
  | { name: JobName.StopLab; data: { sessionId: string } }
  | { name: JobName.Reconcile; data: Record<string, never> }
  | { name: JobName.CullIdle; data: Record<string, never> }
  | { name: JobName.ProbeRigs; data: Record<string, never> };

export type JobData<N extends JobName> = Extract<JobPayload, { name: N }>['data'];

export const JOB_QUEUE: Record<JobName, QueueName> = {
  [JobName.LaunchLab]: QueueName.Labs,
  [JobName.StopLab]: QueueName.Labs,
  [JobName.Reconcile]: QueueName.Maintenance,
  [JobName.CullIdle]: QueueName.Maintenance,
  [JobName.ProbeRigs]: QueueName.Maintenance,
};
