import { AppError } from '../../platform/http/app-error';

export enum AuthErrorCode {
  NotSignedIn = 'auth.not_signed_in',
  BadToken = 'auth.bad_token',
  MissingRole = 'auth.missing_role',
  MissingScope = 'auth.missing_scope',
  UnknownUser = 'auth.unknown_user',
  BadExpiry = 'auth.bad_expiry',
  BadScope = 'auth.bad_scope',
  Csrf = 'auth.csrf',
  TokenNotFound = 'auth.token_not_found',
}

export const notSignedIn = () => new AppError(AuthErrorCode.NotSignedIn, 'unauthenticated', 'Sign in first.');
export const badToken = (why: string) =>
  new AppError(AuthErrorCode.BadToken, 'unauthenticated', `API token rejected: ${why}.`);
