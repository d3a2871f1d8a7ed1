import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { AppError } from '../../platform/http/app-error';
import type { CampusRole } from '../users/user.entity';
import { UsersService } from '../users/users.service';
import { CAMPUS_ROLES_KEY, PUBLIC, Principal, SCOPES_KEY } from './auth.decorators';
import { AuthErrorCode, badToken, notSignedIn } from './auth.errors';
import { hasScope } from './scopes';
import { TokensService } from './tokens.service';

type AuthedRequest = Request & { principal?: Principal; session?: { userId?: string } };

/** Pulls the token out of `Authorization: Bearer …` (or JupyterHub's `token …`). */
export function bearerToken(header: string | undefined): string | null {
  const m = /^(?:Bearer|token)\s+(\S+)\s*$/i.exec(header ?? '');
  return m ? m[1] : null;
}

/**
 * Global guard: every route needs a signed-in principal unless marked @Public(); campus roles and
 * token scopes are checked from the route's metadata.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokensService,
    private readonly users: UsersService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, targets)) return true;
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const principal = await this.authenticate(req);
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

  private async authenticate(req: AuthedRequest): Promise<Principal | null> {
    const token = bearerToken(req.headers.authorization);
    if (token) {
      const result = await this.tokens.verify(token);
      if (!result.ok) throw badToken(result.reason);
      return { user: result.record.user, via: 'token', scopes: result.record.scopes, tokenId: result.record.id };
    }
    const userId = req.session?.userId;
    if (!userId) return null;
    const user = await this.users.byId(userId);
    if (!user || user.disabledAt) return null;
    return { user, via: 'session', scopes: ['*'] };
  }
}
