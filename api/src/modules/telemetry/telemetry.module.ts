import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { RigHealthModule } from '../rig-health/rig-health.module';
import { RigsModule } from '../rigs/rigs.module';
import { TelemetryController } from './telemetry.controller';
import { TelemetryProbeService } from './telemetry-probe.service';
import { RigSampleRollup, RigSampleRow } from './telemetry.entity';
import { TelemetryMetrics } from './telemetry.metrics';
import { TelemetryService } from './telemetry.service';

/** Rig telemetry storage, rollups, retention and its metrics (issue 9). */
@Module({
  imports: [TypeOrmModule.forFeature([RigSampleRow, RigSampleRollup]), RigsModule, RigHealthModule],
  controllers: [TelemetryController],
  providers: [TelemetryService, TelemetryMetrics, TelemetryProbeService],
  exports: [TelemetryService],
})
export class TelemetryModule {}
