import { CanActivate, ExecutionContext, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ModulesContainer, Reflector } from '@nestjs/core';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Request } from 'express';
import { DataSource } from 'typeorm';
import { AppError } from '../../platform/http/app-error';
import { Course, CourseRole, Enrollment } from '../courses/course.entity';
import { CourseErrorCode, courseNotFound } from '../courses/courses.errors';
import type { CampusRole } from '../users/user.entity';
import { CAMPUS_ROLES_KEY, COURSE_ROLES_KEY, CourseAccess, PUBLIC, Principal, SCOPES_KEY } from './auth.decorators';
import { AuthErrorCode, notSignedIn } from './auth.errors';
import { PrincipalResolver } from './principal.resolver';
import { listRoutes, routesWithoutPolicy } from './route-policy';
import { hasScope } from './scopes';

type AuthedRequest = Request & { principal?: Principal; courseAccess?: CourseAccess };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Global guard: every route needs a signed-in principal unless marked @Public(); campus roles, token
 * scopes and course roles are checked from the route's metadata. At boot it refuses to start when a
 * route declares no policy at all.
 */
@Injectable()
export class AuthGuard implements CanActivate, OnApplicationBootstrap {
  constructor(
    private readonly reflector: Reflector,
    private readonly principals: PrincipalResolver,
    private readonly modules: ModulesContainer,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  onApplicationBootstrap(): void {
    const problems = routesWithoutPolicy(listRoutes(this.modules));
    if (problems.length)
      throw new Error(`refusing to start: every route must declare who may call it:\n  ${problems.join('\n  ')}`);
  }

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, targets)) return true;
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const principal = await this.principals.resolve(req);
    if (!principal) throw notSignedIn();
    req.principal = principal;

    const roles = this.reflector.getAllAndOverride<CampusRole[] | undefined>(CAMPUS_ROLES_KEY, targets);
    if (roles?.length && !roles.includes(principal.user.campusRole)) {
      throw new AppError(AuthErrorCode.MissingRole, 'forbidden', `this needs the campus role ${roles.join(' or ')}`);
    }
    const scopes = this.reflector.getAllAndOverride<string[] | undefined>(SCOPES_KEY, targets) ?? [];
    if (!hasScope(principal.scopes, scopes)) {
      throw new AppError(AuthErrorCode.MissingScope, 'forbidden', `this token lacks the scope ${scopes.join(' or ')}`);
    }
    const courseRoles = this.reflector.getAllAndOverride<CourseRole[] | undefined>(COURSE_ROLES_KEY, targets);
    if (courseRoles?.length)
      req.courseAccess = await this.courseAccess(principal, req.params.courseId as string | undefined, courseRoles);
    return true;
  }

  private async courseAccess(p: Principal, courseId: string | undefined, wanted: CourseRole[]): Promise<CourseAccess> {
    const course =
      courseId && UUID.test(courseId) ? await this.db.getRepository(Course).findOneBy({ id: courseId }) : null;
    if (!course) throw courseNotFound();
    const role =
      (await this.db.getRepository(Enrollment).findOne({ where: { courseId: course.id, userId: p.user.id } }))?.role ??
      null;
    if (p.user.campusRole === 'admin') return { course, role };
    const name = `${course.code} ${course.term}`;
    if (!role) throw new AppError(CourseErrorCode.NotMember, 'forbidden', `you are not a member of ${name}`);
    if (!wanted.includes(role)) {
      const needs = `this needs the course role ${wanted.join(' or ')}`;
      throw new AppError(
        CourseErrorCode.MissingCourseRole,
        'forbidden',
        role === 'ta' && wanted.includes('instructor')
          ? `TAs of ${name} may look but not change anything: ${needs}`
          : `you are ${role === 'instructor' ? 'an' : 'a'} ${role} of ${name}: ${needs}`,
      );
    }
    return { course, role };
  }
}
