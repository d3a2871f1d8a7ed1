import { AppError } from '../../platform/http/app-error';

export enum UserErrorCode {
  NotFound = 'user.not_found',
  BadUsername = 'user.bad_username',
  Exists = 'user.exists',
  BadRole = 'user.bad_role',
}

export const userNotFound = (username: string) =>
  new AppError(UserErrorCode.NotFound, 'not_found', `user '${username}' does not exist`);
