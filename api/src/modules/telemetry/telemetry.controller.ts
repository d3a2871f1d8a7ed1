import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CampusRoles, Scopes } from '../auth/auth.decorators';
import { AppError } from '../../platform/http/app-error';
import { TelemetryService } from './telemetry.service';

/** A rig's telemetry over time, for campus IT's charts. */
@ApiTags('rigs')
@ApiBearerAuth()
@CampusRoles('admin')
@Controller('api/rigs/:name/telemetry')
export class TelemetryController {
  constructor(private readonly telemetry: TelemetryService) {}

  /** `?since=` an ISO time (default 24 h ago), `resolution=raw|5m` (default 5m), `series=gpu.` a prefix. */
  @Get()
  @Scopes('read', 'rigs:admin')
  get(
    @Param('name') name: string,
    @Query('since') since?: string,
    @Query('resolution') resolution?: string,
    @Query('series') prefix?: string,
  ) {
    const from = since ? new Date(since) : new Date(Date.now() - 86_400_000);
    if (Number.isNaN(from.getTime()))
      throw new AppError(
        'telemetry.invalid',
        'invalid',
        `since must be an ISO date and time, e.g. 2026-12-03T10:00:00Z`,
      );
    const res = resolution ?? '5m';
    if (res !== 'raw' && res !== '5m')
      throw new AppError('telemetry.invalid', 'invalid', `resolution must be raw or 5m (got '${res}')`);
    return this.telemetry.series(name, from, res, prefix ?? '');
  }
}
