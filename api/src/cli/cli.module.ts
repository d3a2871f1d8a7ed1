import { DynamicModule, Module } from '@nestjs/common';
import { AuditModule } from '../modules/audit/audit.module';
import { TokensModule } from '../modules/auth/auth.module';
import { BurnInModule } from '../modules/burn-in/burn-in.module';
import { CoursesModule } from '../modules/courses/courses.module';
import { LedgerModule } from '../modules/ledger/ledger.module';
import { QuotaModule } from '../modules/quota/quota.module';
import { ReliabilityModule } from '../modules/rig-health/reliability.module';
import { RigsModule } from '../modules/rigs/rigs.module';
import { TemplatesModule } from '../modules/templates/templates.module';
import { UsersModule } from '../modules/users/users.module';
import type { Config } from '../platform/config/config';
import { ConfigModule } from '../platform/config/config.module';
import { DbModule } from '../platform/db/db.module';
import { MetricsModule } from '../platform/metrics/metrics.module';

/** What the command-line tool needs: the database and the domain services, no HTTP, no Redis. */
@Module({})
export class CliModule {
  static forRoot(config: Config): DynamicModule {
    return {
      module: CliModule,
      imports: [
        ConfigModule.forRoot(config),
        DbModule,
        AuditModule,
        UsersModule,
        TokensModule,
        RigsModule,
        CoursesModule,
        LedgerModule,
        MetricsModule,
        QuotaModule,
        TemplatesModule,
        // Entering burn-in from the CLI records its run too (a portal's sweep executes it).
        BurnInModule,
        ReliabilityModule,
      ],
    };
  }
}
