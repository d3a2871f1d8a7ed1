import { Module } from '@nestjs/common';
import { ReliabilityModule } from '../rig-health/reliability.module';
import { TelemetryModule } from '../telemetry/telemetry.module';
import { RigBoardController } from './rig-board.controller';
import { RigBoardService } from './rig-board.service';
import { RigsModule } from './rigs.module';

/**
 * The rigs board reads rigs, telemetry and reliability, which themselves build on RigsModule, so it
 * sits above all three. Imported last by AppModule: its `GET /api/rigs/:name` must come after every
 * fixed `/api/rigs/<word>` route.
 */
@Module({
  imports: [RigsModule, TelemetryModule, ReliabilityModule],
  controllers: [RigBoardController],
  providers: [RigBoardService],
})
export class RigBoardModule {}
