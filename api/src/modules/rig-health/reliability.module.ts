import { Module } from '@nestjs/common';
import { RigsModule } from '../rigs/rigs.module';
import { ReliabilityController } from './reliability.controller';
import { ReliabilityMetrics } from './reliability.metrics';
import { ReliabilityService } from './reliability.service';
import { RigScoringService } from './rig-scoring.service';

/**
 * Reliability scores of rigs and GPUs (issue 9): measured from what the probes, launches and health
 * rules recorded, scored periodically for placement and /metrics, and held to the floor. Imported by
 * AppModule before RigsModule: Nest registers routes in module order, and `GET /api/rigs/reliability`
 * must come before `GET /api/rigs/:name`.
 */
@Module({
  imports: [RigsModule],
  controllers: [ReliabilityController],
  providers: [ReliabilityService, RigScoringService, ReliabilityMetrics],
  exports: [ReliabilityService],
})
export class ReliabilityModule {}
