import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { AppError } from '../../platform/http/app-error';
import type { CampusRole } from '../users/user.entity';
import { CAMPUS_ROLES_KEY, PUBLIC, Principal, SCOPES_KEY } from './auth.decorators';
import { AuthErrorCode, notSignedIn } from './auth.errors';
import { PrincipalResolver } from './principal.resolver';
import { hasScope } from './scopes';

type AuthedRequest = Request & { principal?: Principal };

/**
 * Global guard: every route needs a signed-in principal unless marked @Public(); campus roles and
 * token scopes are checked from the route's metadata.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly principals: PrincipalResolver,
  ) {}

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
    return true;
  }
}
