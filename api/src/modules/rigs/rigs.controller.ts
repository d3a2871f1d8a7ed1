import { Body, Controller, Delete, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { AuditService } from '../audit/audit.service';
import { CampusRoles, CurrentPrincipal, Principal, Scopes } from '../auth/auth.decorators';
import { Rig } from './rig.entity';
import { AddRigDto, RediscoverRigDto } from './rigs.dto';
import { Discovery, RigsService } from './rigs.service';

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
  /** What registration (or the last re-discovery) found through the engine; null until it answered. */
  inventory: r.inventory,
  inventoryAt: r.inventoryAt,
});

/** A registration or re-discovery as the admin is shown it: the rig, the connection test, the GPUs registered. */
export const discoveryView = (d: Discovery) => ({
  ...rigView(d.rig),
  connection: d.connection,
  gpusAdded: d.gpus.added,
  gpusSkipped: d.gpus.skipped,
  gpusMissing: d.gpus.missing,
});

const actorOf = (p: Principal, req: Request & { id?: string }) => ({
  name: p.user.username,
  userId: p.user.id,
  requestId: req.id,
});

/** Registration and removal; the board (GET /api/rigs, GET /api/rigs/:name) is RigBoardController. */
@ApiTags('rigs')
@ApiBearerAuth()
@CampusRoles('admin')
@Controller('api/rigs')
export class RigsController {
  constructor(
    private readonly rigs: RigsService,
    private readonly audit: AuditService,
  ) {}

  /**
   * Tests the connection, discovers the inventory and registers the rig in `registered` (201). An
   * engine that does not answer is refused (400, code rig.unreachable, naming the endpoint and what
   * failed) unless `offline: true`.
   */
  @Post()
  @Scopes('rigs:admin')
  async add(@Body() body: AddRigDto, @CurrentPrincipal() p: Principal, @Req() req: Request & { id?: string }) {
    return discoveryView(await this.rigs.add(body, actorOf(p, req)));
  }

  /** Discovers the rig's inventory again (200); nothing changes when its engine does not answer (400). */
  @Post(':name/inventory')
  @Scopes('rigs:admin')
  @HttpCode(200)
  async rediscover(
    @Param('name') name: string,
    @Body() body: RediscoverRigDto,
    @CurrentPrincipal() p: Principal,
    @Req() req: Request & { id?: string },
  ) {
    return discoveryView(await this.rigs.rediscover(name, { gpus: body.gpus }, actorOf(p, req)));
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
