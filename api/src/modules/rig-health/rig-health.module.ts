import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { RigsModule } from '../rigs/rigs.module';
import { RigHealthService } from './rig-health.service';

@Module({ imports: [RigsModule, AuditModule], providers: [RigHealthService], exports: [RigHealthService] })
export class RigHealthModule {}
