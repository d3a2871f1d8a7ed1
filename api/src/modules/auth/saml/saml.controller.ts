import { Controller, Get, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Public } from '../auth.decorators';
import { SignInLimiter } from '../sign-in-limiter';
import { signInFailedPage } from './pages';
import { SamlService, SignInRefused } from './saml.service';

/** The browser side of SAML sign-in: redirects and HTML pages, not JSON. */
@ApiExcludeController()
@Controller('auth/saml')
export class SamlController {
  constructor(
    private readonly saml: SamlService,
    private readonly limiter: SignInLimiter,
  ) {}

  @Public()
  @Get('metadata')
  metadata(@Req() req: Request, @Res() res: Response): void {
    void this.answer(req, res, async () => {
      res.type('application/samlmetadata+xml').send(this.saml.metadata());
    });
  }

  /** Starts a sign-in: `?next=/path` is where the person lands afterwards. */
  @Public()
  @Get('login')
  login(@Req() req: Request, @Res() res: Response): void {
    void this.answer(req, res, async () => {
      await this.limited(req);
      await this.saml.login(req, res);
    });
  }

  /** Assertion consumer service: the IdP's HTTP-POST of the SAML response. */
  @Public()
  @Post('acs')
  acs(@Req() req: Request, @Res() res: Response): void {
    void this.answer(req, res, async () => {
      await this.limited(req);
      res.redirect(303, await this.saml.acs(req));
    });
  }

  /** Single logout: the IdP's answer to our LogoutRequest, or its own LogoutRequest. */
  @Public()
  @Get('slo')
  slo(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.saml.singleLogout(req, res);
  }

  /** The same, with the HTTP-POST binding. */
  @Public()
  @Post('slo')
  sloPost(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.saml.singleLogout(req, res);
  }

  private async limited(req: Request): Promise<void> {
    if (!(await this.limiter.allow(req))) {
      throw new SignInRefused(
        'Too many sign-in attempts from your address: wait a minute and try again.',
        'rate limited',
        429,
      );
    }
  }

  private async answer(req: Request, res: Response, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (e) {
      const refused =
        e instanceof SignInRefused
          ? e
          : new SignInRefused('Sign-in could not be completed.', (e as Error).message, 500);
      const reference = await this.saml.refused(req, refused);
      if (!res.headersSent) res.status(refused.status).type('html').send(signInFailedPage(refused.reason, reference));
    }
  }
}
