import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LabSession } from '../labs/lab-session.entity';
import { Gpu, GpuSlot, Rig } from './rig.entity';
import { RigsController } from './rigs.controller';
import { RigsService } from './rigs.service';

@Module({
  imports: [TypeOrmModule.forFeature([Rig, Gpu, GpuSlot, LabSession])],
  controllers: [RigsController],
  providers: [RigsService],
  exports: [RigsService],
})
export class RigsModule {}
