import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { LabSession } from '../labs/lab-session.entity';
import { Gpu, GpuSlot, Rig, RigEvent } from './rig.entity';
import { RigStateService } from './rig-state.service';
import { RigsController } from './rigs.controller';
import { RigsService } from './rigs.service';

@Module({
  imports: [TypeOrmModule.forFeature([Rig, Gpu, GpuSlot, RigEvent, LabSession]), AuditModule],
  controllers: [RigsController],
  providers: [RigsService, RigStateService],
  exports: [RigsService, RigStateService],
})
export class RigsModule {}
