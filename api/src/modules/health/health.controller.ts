import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../auth/auth.decorators';
import { Health, HealthService } from './health.service';

@ApiTags('operations')
@Controller('api/health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  /**
   * 200 when the portal can serve (status ok or degraded: Redis or a rig down), 503 when it cannot
   * (database down), so a load balancer keeps a degraded portal in rotation.
   */
  @Public()
  @Get()
  @ApiOkResponse({ description: 'database, redis and every rig engine, each up/down with latency' })
  async get(@Res({ passthrough: true }) res: Response): Promise<Health> {
    const health = await this.health.check();
    res.status(health.status === 'down' ? 503 : 200);
    res.setHeader('Cache-Control', 'no-store');
    return health;
  }
}
