import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { AuditService } from '../audit/audit.service';
import { CampusRoles, CurrentPrincipal, Principal, Scopes } from '../auth/auth.decorators';
import { Rig } from './rig.entity';
import { AddRigDto } from './rigs.dto';
import { RigsService } from './rigs.service';

export const rigView = (r: Rig) => ({
  id: r.id,
  name: r.name,
  endpoint: r.dockerEndpoint,
  tls: !!r.tls,
  state: r.state,
  stateReason: r.stateReason,
  /** While draining: where the rig goes once its labs are gone, and when the rest are stopped. */
  drainTarget: r.drainTarget,
  drainDeadline: r.drainDeadline,
  driver: r.driverKind,
  cpus: r.cpuMillis / 1000,
  memoryMb: r.memoryMb,
  lastSeenAt: r.lastSeenAt,
  engineVersion: r.engineVersion,
});

@ApiTags('rigs')
@ApiBearerAuth()
@CampusRoles('admin')
@Controller('api/rigs')
export class RigsController {
  constructor(
    private readonly rigs: RigsService,
    private readonly audit: AuditService,
  ) {}

  @Get()
  @Scopes('read', 'rigs:admin')
  async list() {
    return (await this.rigs.list()).map(rigView);
  }

  @Post()
  @Scopes('rigs:admin')
  async add(@Body() body: AddRigDto, @CurrentPrincipal() p: Principal, @Req() req: Request & { id?: string }) {
    const rig = await this.rigs.add(body);
    await this.audit.record({
      action: 'rig.add',
      actorUserId: p.user.id,
      actor: p.user.username,
      targetType: 'rig',
      targetId: rig.name,
      detail: { endpoint: rig.dockerEndpoint },
      requestId: req.id,
    });
    return rigView(rig);
  }

  @Delete(':name')
  @Scopes('rigs:admin')
  @HttpCode(204)
  async remove(
    @Param('name') name: string,
    @CurrentPrincipal() p: Principal,
    @Req() req: Request & { id?: string },
  ): Promise<void> {
    await this.rigs.remove(name);
    await this.audit.record({
      action: 'rig.remove',
      actorUserId: p.user.id,
      actor: p.user.username,
      targetType: 'rig',
      targetId: name,
      requestId: req.id,
    });
  }
}
