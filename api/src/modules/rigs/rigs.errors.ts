import { AppError } from '../../platform/http/app-error';

export enum RigErrorCode {
  NotFound = 'rig.not_found',
  Exists = 'rig.exists',
  BadEndpoint = 'rig.bad_endpoint',
  BadName = 'rig.bad_name',
  BadCapacity = 'rig.bad_capacity',
  InUse = 'rig.in_use',
  BadGpu = 'rig.bad_gpu',
  BadTransition = 'rig.bad_transition',
  HasHistory = 'rig.has_history',
  /** The engine did not answer the connection test of a registration or re-discovery. */
  Unreachable = 'rig.unreachable',
}

export const rigNotFound = (name: string) =>
  new AppError(RigErrorCode.NotFound, 'not_found', `rig '${name}' does not exist`);
