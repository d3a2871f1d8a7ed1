import { Controller, Get, Global, Header, Module } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../../modules/auth/auth.decorators';
import { Metrics } from './metrics';

@ApiExcludeController()
@Controller()
export class MetricsController {
  constructor(private readonly metrics: Metrics) {}

  /** Prometheus scrape endpoint (no auth, like JupyterHub's with authenticate_prometheus off). */
  @Public()
  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}

@Global()
@Module({
  providers: [{ provide: Metrics, useFactory: () => new Metrics() }],
  controllers: [MetricsController],
  exports: [Metrics],
})
export class MetricsModule {}
