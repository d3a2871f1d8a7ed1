import { AppError } from '../../platform/http/app-error';

export enum LabErrorCode {
  NotFound = 'lab.not_found',
  TemplateNotFound = 'lab.template_not_found',
  NotEnrolled = 'lab.not_enrolled',
  CourseArchived = 'lab.course_archived',
  TooManyLaunches = 'lab.too_many_launches',
  LaunchRateLimited = 'lab.launch_rate_limited',
  NotRunning = 'lab.not_running',
}

export const labNotFound = () => new AppError(LabErrorCode.NotFound, 'not_found', 'no such lab');
