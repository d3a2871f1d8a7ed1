import { AppError } from '../../platform/http/app-error';

export enum LedgerErrorCode {
  BadDraft = 'ledger.bad_draft',
  BadQuery = 'ledger.bad_query',
  BadAdjustment = 'ledger.bad_adjustment',
  UnknownUser = 'ledger.unknown_user',
  UnknownCourse = 'ledger.unknown_course',
  NotMember = 'ledger.not_member',
  Broken = 'ledger.broken',
  BadExport = 'ledger.bad_export',
}

/** A draft the ledger cannot record as given (a programming error of the caller, or bad input). */
export const badDraft = (message: string) => new AppError(LedgerErrorCode.BadDraft, 'invalid', message);
export const badQuery = (message: string) => new AppError(LedgerErrorCode.BadQuery, 'invalid', message);
export const badAdjustment = (message: string) => new AppError(LedgerErrorCode.BadAdjustment, 'invalid', message);
export const unknownUser = (username: string) =>
  new AppError(LedgerErrorCode.UnknownUser, 'invalid', `no user named '${username}'`);
export const unknownCourse = (given: string) =>
  new AppError(
    LedgerErrorCode.UnknownCourse,
    'invalid',
    `no course '${given}' (give its id, or CODE:TERM such as CS101:2026F)`,
  );
/** An exported file that is not a ledger export, or cannot be read as one. */
export const badExport = (message: string) => new AppError(LedgerErrorCode.BadExport, 'invalid', message);
