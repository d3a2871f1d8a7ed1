import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CampusRoles, Scopes } from '../auth/auth.decorators';
import { RigBoardService } from './rig-board.service';

/**
 * The rigs board for campus IT. Its `GET /api/rigs/:name` is registered last of the rig routes
 * (RigBoardModule comes last in AppModule), so `/api/rigs/reliability` and the like are never read
 * as a rig's name.
 */
@ApiTags('rigs')
@ApiBearerAuth()
@CampusRoles('admin')
@Controller('api/rigs')
export class RigBoardController {
  constructor(private readonly board: RigBoardService) {}

  /** Every rig that is not retired, with latest telemetry, slots, GPU health and alerts. */
  @Get()
  @Scopes('read', 'rigs:admin')
  list() {
    return this.board.board();
  }

  @Get(':name')
  @Scopes('read', 'rigs:admin')
  one(@Param('name') name: string) {
    return this.board.one(name);
  }

  /** The rig's audit history (registration, state changes, quarantines, re-discoveries), newest first. */
  @Get(':name/audit')
  @Scopes('read', 'rigs:admin')
  audit(@Param('name') name: string) {
    return this.board.audit(name);
  }
}
