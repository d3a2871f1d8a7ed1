import { Module } from '@nestjs/common';
import { RigsModule } from '../rigs/rigs.module';
import { CullerService } from './culler.service';
import { LabMetrics } from './lab.metrics';
import { LabProgressService } from './lab-progress.service';
import { LabRunnerService } from './lab-runner.service';
import { LabSessionsRepository } from './lab-sessions.repository';
import { CourseLabsController, LabsController } from './labs.controller';
import { LabsService } from './labs.service';
import { PlacementService } from './placement.service';
import { ReconcilerService } from './reconciler.service';
import { RouteTable } from './route-table';
import { spawnerProvider } from './spawner.provider';

@Module({
  imports: [RigsModule],
  controllers: [LabsController, CourseLabsController],
  providers: [
    spawnerProvider,
    LabSessionsRepository,
    LabProgressService,
    LabMetrics,
    PlacementService,
    LabRunnerService,
    LabsService,
    ReconcilerService,
    CullerService,
    RouteTable,
  ],
  exports: [LabsService, LabSessionsRepository, RouteTable],
})
export class LabsModule {}
