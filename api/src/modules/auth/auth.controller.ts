import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { AppError } from '../../platform/http/app-error';
import { AuditService } from '../audit/audit.service';
import { CurrentPrincipal, Principal, Public, Scopes } from './auth.decorators';
import { CreateTokenDto, DevSignInDto } from './auth.dto';
import { AuthErrorCode } from './auth.errors';
import { AuthService } from './auth.service';
import { parseExpiry, TokensService } from './tokens.service';

type SessionRequest = Request & {
  id?: string;
  session: { userId?: string; regenerate(cb: (e?: unknown) => void): void; destroy(cb: (e?: unknown) => void): void };
};

@ApiTags('auth')
@ApiBearerAuth()
@Controller('api')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly tokens: TokensService,
    private readonly audit: AuditService,
  ) {}

  @Get('me')
  @Scopes('read')
  me(@CurrentPrincipal() p: Principal) {
    return this.auth.describe(p);
  }

  /** What the sign-in page should offer. */
  @Public()
  @Get('auth/config')
  config() {
    return this.auth.signInOptions();
  }

  /** Password-less sign-in for demos and development only (off unless RIGLAB_ENV=development and DEV_SIGN_IN). */
  @Public()
  @Post('auth/dev-sign-in')
  @HttpCode(200)
  async devSignIn(@Body() body: DevSignInDto, @Req() req: SessionRequest) {
    const user = await this.auth.devSignIn(body.username);
    await new Promise<void>((resolve, reject) => req.session.regenerate((e) => (e ? reject(e) : resolve())));
    req.session.userId = user.id;
    await this.audit.record({
      action: 'auth.dev_sign_in',
      actorUserId: user.id,
      actor: user.username,
      requestId: req.id,
      ip: req.ip,
    });
    return { username: user.username };
  }

  @Public()
  @Post('auth/sign-out')
  @HttpCode(204)
  async signOut(@Req() req: SessionRequest): Promise<void> {
    if (!req.session?.userId) return;
    await new Promise<void>((resolve) => req.session.destroy(() => resolve()));
  }

  @Get('tokens')
  @Scopes('read')
  async listTokens(@CurrentPrincipal() p: Principal) {
    return (await this.tokens.list(p.user.id)).map((t) => this.auth.tokenView(t));
  }

  @Post('tokens')
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
