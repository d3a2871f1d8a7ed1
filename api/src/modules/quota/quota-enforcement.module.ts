import { Module } from '@nestjs/common';
import { LabsModule } from '../labs/labs.module';
import { LedgerModule } from '../ledger/ledger.module';
import { GpuQueueService } from './gpu-queue.service';
import { MeterService } from './meter.service';
import { QuotaModule } from './quota.module';

/** What puts running labs under the quota: metering, budgets and slices, and the fair GPU queue. */
@Module({
  imports: [LabsModule, QuotaModule, LedgerModule],
  providers: [MeterService, GpuQueueService],
  exports: [GpuQueueService],
})
export class QuotaEnforcementModule {}
