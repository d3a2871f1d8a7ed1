import { Module } from '@nestjs/common';
import { QuotaModule } from '../quota/quota.module';
import { RigsModule } from '../rigs/rigs.module';
import { TemplatesModule } from '../templates/templates.module';
import { CullerService } from './culler.service';
import { LabMetrics } from './lab.metrics';
import { LabProgressService } from './lab-progress.service';
import { LabRunnerService } from './lab-runner.service';
import { LabSessionsRepository } from './lab-sessions.repository';
import { LabStopperService } from './lab-stopper.service';
import { LabSpecService } from './lab-spec.service';
import { CourseLabsController, LabsController } from './labs.controller';
import { LabsService } from './labs.service';
import { PlacementService } from './placement.service';
import { ReconcilerService } from './reconciler.service';
import { RouteTable } from './route-table';
import { spawnerProvider } from './spawner.provider';

@Module({
  imports: [RigsModule, QuotaModule, TemplatesModule],
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
    LabStopperService,
    LabSpecService,
  ],
  exports: [
    LabsService,
    LabSessionsRepository,
    RouteTable,
    PlacementService,
    LabRunnerService,
    LabProgressService,
    LabStopperService,
  ],
})
export class LabsModule {}
