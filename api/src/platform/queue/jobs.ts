/**
 * Every background job riglab runs: queue, name and payload, in one place (STYLE.md). Adding a job
 * here without exactly one handler stops the boot.
 */
export enum QueueName {
  Rigs = 'rigs',
}

export enum JobName {
  ProbeRigs = 'probe-rigs',
}

export type JobPayload = { name: JobName.ProbeRigs; data: Record<string, never> };

export type JobData<N extends JobName> = Extract<JobPayload, { name: N }>['data'];

export const JOB_QUEUE: Record<JobName, QueueName> = {
  [JobName.ProbeRigs]: QueueName.Rigs,
};
