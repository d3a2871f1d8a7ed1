import { AppError } from '../../platform/http/app-error';

export enum BurnInErrorCode {
  AlreadyRunning = 'burn_in.running',
  Failed = 'burn_in.failed',
}

export const burnInRunning = (rig: string, runId: string, since: Date) =>
  new AppError(
    BurnInErrorCode.AlreadyRunning,
    'conflict',
    `a burn-in of rig '${rig}' is already running (run ${runId}, started ${since.toISOString()})`,
    undefined,
    { runId },
  );
