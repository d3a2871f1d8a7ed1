import { JobName } from './jobs';

export type Handler = (data: unknown) => Promise<unknown>;

export class JobRegistryError extends Error {}

/**
 * Builds the job → handler map and refuses an incomplete or ambiguous one: a job nobody handles
 * would sit in Redis forever, and two handlers would race.
 */
export function buildHandlerMap(
  found: Array<{ job: string; owner: string; handler: Handler }>,
  declared: readonly string[] = Object.values(JobName),
): Map<string, Handler> {
  const map = new Map<string, Handler>();
  const owners = new Map<string, string>();
  const problems: string[] = [];
  for (const { job, owner, handler } of found) {
    if (!declared.includes(job)) problems.push(`handler ${owner} is for unknown job '${job}'`);
    else if (owners.has(job)) problems.push(`job '${job}' has two handlers: ${owners.get(job)} and ${owner}`);
    owners.set(job, owner);
    map.set(job, handler);
  }
  for (const job of declared) if (!map.has(job)) problems.push(`job '${job}' has no handler`);
  if (problems.length) throw new JobRegistryError(`job registry is invalid: ${problems.join('; ')}`);
  return map;
}
