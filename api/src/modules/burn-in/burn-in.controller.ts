import { Body, Controller, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { CampusRoles, CurrentPrincipal, Principal, Scopes } from '../auth/auth.decorators';
import { BurnInStartDto } from './burn-in.dto';
import type { BurnInRunView } from './burn-in.policy';
import { BurnInService } from './burn-in.service';

@ApiTags('rigs')
@ApiBearerAuth()
@CampusRoles('admin')
@Controller('api/rigs')
export class BurnInController {
  constructor(private readonly burnIns: BurnInService) {}

  /** The latest burn-in run of every rig that is not retired. */
  @Get('burn-in/latest')
  @Scopes('read', 'rigs:admin')
  latest(): Promise<BurnInRunView[]> {
    return this.burnIns.latest();
  }

  /** Moves the rig into burn-in (or, already there with no run going, runs it again): 202 and the new run. */
  @Post(':name/burn-in')
  @Scopes('rigs:admin')
  @HttpCode(202)
  start(
    @Param('name') name: string,
    @Body() body: BurnInStartDto,
    @CurrentPrincipal() p: Principal,
    @Req() req: Request & { id?: string },
  ): Promise<BurnInRunView> {
    return this.burnIns.start(name, body.reason ?? `burn-in asked by ${p.user.username}`, {
      name: p.user.username,
      userId: p.user.id,
      requestId: req.id,
    });
  }

  /** The rig's burn-in runs, newest first (at most 20). */
  @Get(':name/burn-in')
  @Scopes('read', 'rigs:admin')
  runs(@Param('name') name: string): Promise<BurnInRunView[]> {
    return this.burnIns.runs(name);
  }
}
