import { AppError } from '../../platform/http/app-error';

export enum CourseErrorCode {
  NotFound = 'course.not_found',
  Exists = 'course.exists',
  BadCode = 'course.bad_code',
  BadSettings = 'course.bad_settings',
  NotMember = 'course.not_member',
  MissingCourseRole = 'course.missing_role',
  MemberNotFound = 'course.member_not_found',
  BadUsername = 'course.bad_username',
  BadRole = 'course.bad_role',
  SelfChange = 'course.self_change',
  RosterInvalid = 'course.roster_invalid',
}

export const courseNotFound = (what = 'that id') =>
  new AppError(CourseErrorCode.NotFound, 'not_found', `no course with ${what}`);
