import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Course, CourseRole } from '../courses/course.entity';
import type { CampusRole, User } from '../users/user.entity';
import { TOKEN_SCOPES } from './scopes';

export const PUBLIC = 'riglab:public';
export const CAMPUS_ROLES_KEY = 'riglab:campus-roles';
export const SCOPES_KEY = 'riglab:scopes';
export const COURSE_ROLES_KEY = 'riglab:course-roles';

/** Open to anyone, signed in or not. Every other route requires a signed-in user (AuthGuard). */
export const Public = () => SetMetadata(PUBLIC, true);

/** Only users holding one of these campus roles. */
export const CampusRoles = (...roles: CampusRole[]) => SetMetadata(CAMPUS_ROLES_KEY, roles);

/** API tokens must carry one of these scopes; browser sessions act with the user's full rights. */
export const Scopes = (...scopes: string[]) => SetMetadata(SCOPES_KEY, scopes);

/**
 * Any token of the user will do: for managing one's own account (tokens), where the handler itself
 * keeps what a token may do within its own scopes. Still a declared policy, as every route needs one.
 */
export const AnyScope = () => Scopes(...TOKEN_SCOPES);

/**
 * For routes with a `:courseId` parameter: the caller needs one of these roles in that course.
 * Campus admins always pass. The course and the caller's role in it are then on the request
 * (`@CurrentCourse()`), so handlers need not look them up again.
 */
export const CourseRoles = (...roles: CourseRole[]) => SetMetadata(COURSE_ROLES_KEY, roles);

export interface Principal {
  user: User;
  via: 'token' | 'session';
  /** Scopes of the token used, or ['*'] for a browser session. */
  scopes: string[];
  tokenId?: string;
}

export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  return ctx.switchToHttp().getRequest().principal;
});

/** What the guard found for a `@CourseRoles` route: the course, and the caller's role in it (null: an admin who is no member). */
export interface CourseAccess {
  course: Course;
  role: CourseRole | null;
}

export const CurrentCourse = createParamDecorator((_: unknown, ctx: ExecutionContext): CourseAccess => {
  return ctx.switchToHttp().getRequest().courseAccess;
});
