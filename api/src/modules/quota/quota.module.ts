import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LedgerModule } from '../ledger/ledger.module';
import { CourseQuota } from './course-quota.entity';
import { CourseQuotaController, MyUsageController, UsageController } from './quota.controller';
import { QuotaMetrics } from './quota.metrics';
import { QuotaService } from './quota.service';
import { UsageService } from './usage.service';

/** Course quotas, admission and usage views: needs the ledger, knows nothing of containers. */
@Module({
  imports: [TypeOrmModule.forFeature([CourseQuota]), LedgerModule],
  controllers: [MyUsageController, CourseQuotaController, UsageController],
  providers: [QuotaService, UsageService, QuotaMetrics],
  exports: [QuotaService, QuotaMetrics],
})
export class QuotaModule {}
