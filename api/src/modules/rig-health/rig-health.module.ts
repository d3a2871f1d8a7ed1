import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { RigsModule } from '../rigs/rigs.module';
import { ProbeAvailabilityService } from './probe-availability.service';
import { RigHealthService } from './rig-health.service';

@Module({
  imports: [RigsModule, AuditModule],
  providers: [RigHealthService, ProbeAvailabilityService],
  exports: [RigHealthService],
})
export class RigHealthModule {}
