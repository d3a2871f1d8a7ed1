import { Injectable } from '@nestjs/common';
import type { SessionData } from 'express-session';
import type { IncomingMessage } from 'node:http';
import './session-data';
import { UsersService } from '../users/users.service';
import type { Principal } from './auth.decorators';
import { badToken } from './auth.errors';
import { TokensService } from './tokens.service';

const CACHE_MS = 5000;

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

  private readonly recent = new Map<string, { principal: Principal; until: number }>();

  /**
   * The principal, null when nobody is signed in; throws when a token is given but refused.
   * `cached`: the notebook proxy's hot path may reuse an answer for a few seconds (a revoked token or
   * a signed-out session keeps working that long on other portal processes); API routes never do.
   */
  async resolve(req: SessionCarrier, queryToken?: string | null, cached = false): Promise<Principal | null> {
    const token = bearerToken(req.headers.authorization) ?? queryToken ?? null;
    const userId = req.session?.userId;
    // The cache lives in this process's memory only, beside the request that carries the token anyway:
    // keyed by the token itself, so the proxy's hot path hashes nothing.
    const key = token ? `t:${token}` : userId ? `s:${userId}` : null;
    if (!key) return null;
    const hit = cached ? this.recent.get(key) : undefined;
    if (hit && hit.until > Date.now()) return hit.principal;

    let principal: Principal | null = null;
    if (token) {
      const result = await this.tokens.verify(token);
      if (!result.ok) throw badToken(result.reason);
      principal = { user: result.record.user, via: 'token', scopes: result.record.scopes, tokenId: result.record.id };
    } else {
      const user = await this.users.byId(userId!);
      if (user && !user.disabledAt) principal = { user, via: 'session', scopes: ['*'] };
    }
    if (principal && cached) {
      if (this.recent.size >= 10_000) this.recent.clear();
      this.recent.set(key, { principal, until: Date.now() + CACHE_MS });
    }
    return principal;
  }
}
