import { Module } from '@nestjs/common';
import { LabsModule } from '../labs/labs.module';
import { RigDrainService } from './rig-drain.service';
import { RigLifecycleController } from './rig-lifecycle.controller';
import { RigsModule } from './rigs.module';

/**
 * Drains need the labs (warn, stop) and labs need the rigs (placement), so what touches both lives
 * here, above the two, rather than in RigsModule.
 */
@Module({
  imports: [RigsModule, LabsModule],
  controllers: [RigLifecycleController],
  providers: [RigDrainService],
  exports: [RigDrainService],
})
export class RigLifecycleModule {}
