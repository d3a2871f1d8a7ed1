import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CampusRoles, Scopes } from '../auth/auth.decorators';
import type { RigReliability } from './reliability.policy';
import { ReliabilityService } from './reliability.service';

@ApiTags('rigs')
@ApiBearerAuth()
@CampusRoles('admin')
@Controller('api/rigs')
export class ReliabilityController {
  constructor(private readonly reliability: ReliabilityService) {}

  /**
   * Every rig's reliability score (and each GPU's) over its window, measured now. Registered before
   * the rigs' own `GET /api/rigs/:name` (ReliabilityModule comes first in AppModule), so
   * `reliability` is never read as a rig name.
   */
  @Get('reliability')
  @Scopes('read', 'rigs:admin')
  all(): Promise<RigReliability[]> {
    return this.reliability.all();
  }
}
