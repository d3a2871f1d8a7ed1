import { Injectable } from '@nestjs/common';
import type { SessionData } from 'express-session';
import type { IncomingMessage } from 'node:http';
import './session-data';
import { UsersService } from '../users/users.service';
import type { Principal } from './auth.decorators';
import { badToken } from './auth.errors';
import { TokensService } from './tokens.service';

/** Pulls the token out of `Authorization: Bearer …` (or JupyterHub's `token …`). */
export function bearerToken(header: string | undefined): string | null {
  const m = /^(?:Bearer|token)\s+(\S+)\s*$/i.exec(header ?? '');
  return m ? m[1] : null;
}

export type SessionCarrier = IncomingMessage & { session?: Partial<SessionData> };

/**
 * Who is asking: an API token (header, or `token` query parameter for WebSocket clients that cannot
 * set headers) or the browser session. Used by the route guard and by the notebook proxy alike.
 */
@Injectable()
export class PrincipalResolver {
  constructor(
    private readonly tokens: TokensService,
    private readonly users: UsersService,
  ) {}

  /** The principal, null when nobody is signed in; throws when a token is given but refused. */
  async resolve(req: SessionCarrier, queryToken?: string | null): Promise<Principal | null> {
    const token = bearerToken(req.headers.authorization) ?? queryToken ?? null;
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
