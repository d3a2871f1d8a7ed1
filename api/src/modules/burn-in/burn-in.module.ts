import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { RigsModule } from '../rigs/rigs.module';
import { BurnInRun } from './burn-in-run.entity';
import { BurnInExecutor } from './burn-in-executor.service';
import { BurnInController } from './burn-in.controller';
import { BurnInMetrics } from './burn-in.metrics';
import { BurnInService } from './burn-in.service';

/** The burn-in self-test of rigs (issue 9): runs, their checks, and the moves they decide. */
@Module({
  imports: [TypeOrmModule.forFeature([BurnInRun]), RigsModule],
  controllers: [BurnInController],
  providers: [BurnInService, BurnInExecutor, BurnInMetrics],
  exports: [BurnInService],
})
export class BurnInModule {}
