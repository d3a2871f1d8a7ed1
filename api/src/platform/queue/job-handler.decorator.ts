import { SetMetadata } from '@nestjs/common';
import type { JobName } from './jobs';

export const JOB_HANDLER = 'riglab:job-handler';

/** Marks a provider method as the one handler of a job. Handlers must be idempotent and re-read Postgres. */
export const JobHandler = (name: JobName) => SetMetadata(JOB_HANDLER, name);
