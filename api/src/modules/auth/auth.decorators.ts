import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { CampusRole, User } from '../users/user.entity';

export const PUBLIC = 'riglab:public';
export const CAMPUS_ROLES_KEY = 'riglab:campus-roles';
export const SCOPES_KEY = 'riglab:scopes';

/** Open to anyone, signed in or not. Every other route requires a signed-in user (AuthGuard). */
export const Public = () => SetMetadata(PUBLIC, true);

/** Only users holding one of these campus roles. */
export const CampusRoles = (...roles: CampusRole[]) => SetMetadata(CAMPUS_ROLES_KEY, roles);

/** API tokens must carry one of these scopes; browser sessions act with the user's full rights. */
export const Scopes = (...scopes: string[]) => SetMetadata(SCOPES_KEY, scopes);

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
