import { Body, Controller, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { AppError } from '../../platform/http/app-error';
import { CampusRoles, CurrentPrincipal, Principal, Scopes } from '../auth/auth.decorators';
import { RigDrainService } from './rig-drain.service';
import { RigStateDto } from './rig-lifecycle.dto';
import { parseDuration } from './rig-lifecycle.policy';
import { rigEventView, RigStateService } from './rig-state.service';
import { rigView } from './rigs.controller';
import { RigErrorCode } from './rigs.errors';

@ApiTags('rigs')
@ApiBearerAuth()
@CampusRoles('admin')
@Controller('api/rigs')
export class RigLifecycleController {
  constructor(
    private readonly states: RigStateService,
    private readonly drains: RigDrainService,
  ) {}

  /** Moves a rig along its life (drain, maintenance, burn-in, active, retired); answers the rig as it is now. */
  @Post(':name/state')
  @Scopes('rigs:admin')
  @HttpCode(200)
  async change(
    @Param('name') name: string,
    @Body() body: RigStateDto,
    @CurrentPrincipal() p: Principal,
    @Req() req: Request & { id?: string },
  ) {
    let deadlineMs: number | undefined;
    if (body.deadline != null) {
      const ms = parseDuration(body.deadline);
      if (ms === null)
        throw new AppError(
          RigErrorCode.BadTransition,
          'invalid',
          `deadline '${body.deadline}' is not a duration: use e.g. 90s, 30m or 2h`,
        );
      deadlineMs = ms;
    }
    const rig = await this.states.change(
      name,
      { to: body.to, reason: body.reason, deadlineMs },
      { name: p.user.username, userId: p.user.id, requestId: req.id },
    );
    // Tell the labs on a draining rig now rather than at the next periodic round.
    if (rig.state === 'draining') await this.drains.enforce(rig.id);
    return rigView(rig);
  }

  @Get(':name/events')
  @Scopes('read', 'rigs:admin')
  async events(@Param('name') name: string) {
    return (await this.states.events(name)).map(rigEventView);
  }
}
