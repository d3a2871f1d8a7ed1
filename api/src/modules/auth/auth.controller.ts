import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { AppError } from '../../platform/http/app-error';
import { AuditService } from '../audit/audit.service';
import { AnyScope, CurrentPrincipal, Principal, Public, Scopes } from './auth.decorators';
import { CreateTokenDto } from './auth.dto';
import { AuthErrorCode } from './auth.errors';
import { AuthService } from './auth.service';
import { SamlService } from './saml/saml.service';
import { SessionRegistry } from './session-registry';
import './session-data';
import { parseExpiry, TokensService } from './tokens.service';

type SessionRequest = Request & { id?: string };

@ApiTags('auth')
@ApiBearerAuth()
@Controller('api')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly tokens: TokensService,
    private readonly audit: AuditService,
    private readonly saml: SamlService,
    private readonly sessions: SessionRegistry,
  ) {}

  @Get('me')
  @Scopes('read')
  me(@CurrentPrincipal() p: Principal, @Req() req: SessionRequest) {
    return this.auth.describe(p, req.session?.csrfToken);
  }

  /** What the sign-in page should offer: university SSO, and the development IdP's accounts. */
  @Public()
  @Get('auth/config')
  config() {
    return this.saml.signInOptions();
  }

  /**
   * Ends this browser session (every portal process sees it at once: sessions live in Redis). When
   * the IdP offers single logout, `redirect` is where the browser goes next to end the SSO session too.
   */
  @Public()
  @Post('auth/sign-out')
  @HttpCode(200)
  async signOut(@Req() req: SessionRequest): Promise<{ redirect: string | null }> {
    const userId = req.session?.userId;
    if (!userId) return { redirect: null };
    const redirect = await this.saml.logoutUrl(req);
    const sid = req.sessionID;
    await new Promise<void>((resolve) => req.session.destroy(() => resolve()));
    await this.sessions.remove(userId, sid).catch(() => undefined);
    await this.audit.record({ action: 'auth.sign_out', actorUserId: userId, requestId: req.id, ip: req.ip });
    return { redirect };
  }

  @Get('tokens')
  @Scopes('read')
  async listTokens(@CurrentPrincipal() p: Principal) {
    return (await this.tokens.list(p.user.id)).map((t) => this.auth.tokenView(t));
  }

  @Post('tokens')
  @AnyScope()
  async createToken(@CurrentPrincipal() p: Principal, @Body() body: CreateTokenDto, @Req() req: SessionRequest) {
    if (p.via === 'token' && !p.scopes.includes('admin')) {
      // A token may not mint a token wider than itself.
      const wider = (body.scopes ?? ['read', 'labs']).filter((s) => !p.scopes.includes(s));
      if (wider.length)
        throw new AppError(
          AuthErrorCode.MissingScope,
          'forbidden',
          `a token cannot create a token with scopes it lacks: ${wider.join(', ')}`,
        );
    }
    const created = await this.tokens.create(p.user, {
      name: body.name,
      scopes: body.scopes,
      expiresAt: parseExpiry(body.expires ?? '30d'),
    });
    await this.audit.record({
      action: 'token.create',
      actorUserId: p.user.id,
      actor: p.user.username,
      targetType: 'api_token',
      targetId: created.record.id,
      requestId: req.id,
      ip: req.ip,
    });
    return { token: created.token, ...this.auth.tokenView(created.record) };
  }

  @Delete('tokens/:id')
  @AnyScope()
  @HttpCode(204)
  async revokeToken(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Req() req: SessionRequest,
  ): Promise<void> {
    const owner = p.user.campusRole === 'admin' ? undefined : p.user.id;
    await this.tokens.revoke(id, owner);
    await this.audit.record({
      action: 'token.revoke',
      actorUserId: p.user.id,
      actor: p.user.username,
      targetType: 'api_token',
      targetId: id,
      requestId: req.id,
      ip: req.ip,
    });
  }
}
