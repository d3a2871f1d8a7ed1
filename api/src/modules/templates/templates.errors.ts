import { AppError } from '../../platform/http/app-error';

export enum TemplateErrorCode {
  NotFound = 'template.not_found',
  VersionNotFound = 'template.version_not_found',
  Exists = 'template.exists',
  Invalid = 'template.invalid',
  StarterFolderMissing = 'template.starter_folder_missing',
  StarterArchiveInvalid = 'template.starter_archive_invalid',
  StarterArchiveType = 'template.starter_archive_type',
  FileInvalid = 'template.file_invalid',
}

export const templateNotFound = () =>
  new AppError(TemplateErrorCode.NotFound, 'not_found', 'no lab template with that id in this course');

export const templateInvalid = (problems: string[]) =>
  new AppError(TemplateErrorCode.Invalid, 'invalid', problems.join('; '));
