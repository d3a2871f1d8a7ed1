import { Controller, Get, Global, Inject, Module, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { Public } from '../../modules/auth/auth.decorators';
import type { Config } from '../config/config';
import { CONFIG } from '../config/config.module';
import { AppError } from '../http/app-error';
import { Metrics } from './metrics';

@ApiExcludeController()
@Controller()
export class MetricsController {
  constructor(
    private readonly metrics: Metrics,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  /**
   * Prometheus scrape endpoint. With METRICS_TOKEN set (JupyterHub's authenticate_prometheus), the
   * scraper must send `Authorization: Bearer <METRICS_TOKEN>`; without it the endpoint is open.
   */
  @Public()
  @Get('metrics')
  scrape(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<string> {
    const want = this.config.metricsToken;
    if (want) {
      const sent = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const ok = sent.length === want.length && timingSafeEqual(Buffer.from(sent), Buffer.from(want));
      if (!ok)
        throw new AppError(
          'metrics.unauthorized',
          'unauthenticated',
          'This scrape needs the METRICS_TOKEN as a Bearer token.',
        );
    }
    res.setHeader('Content-Type', 'text/plain; version=0.0.4; charset=utf-8');
    return this.metrics.scrape();
  }
}

@Global()
@Module({
  providers: [{ provide: Metrics, useFactory: () => new Metrics() }],
  controllers: [MetricsController],
  exports: [Metrics],
})
export class MetricsModule {}
