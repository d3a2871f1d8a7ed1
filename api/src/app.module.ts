import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AuditModule } from './modules/audit/audit.module';
import { AuthGuard } from './modules/auth/auth.guard';
import { AuthModule } from './modules/auth/auth.module';
import { BurnInModule } from './modules/burn-in/burn-in.module';
import { CoursesModule } from './modules/courses/courses.module';
import { HealthModule } from './modules/health/health.module';
import { LabsModule } from './modules/labs/labs.module';
import { LedgerModule } from './modules/ledger/ledger.module';
import { ProxyModule } from './modules/proxy/proxy.module';
import { QuotaEnforcementModule } from './modules/quota/quota-enforcement.module';
import { TelemetryModule } from './modules/telemetry/telemetry.module';
import { RigHealthModule } from './modules/rig-health/rig-health.module';
import { ReliabilityModule } from './modules/rig-health/reliability.module';
import { RigLifecycleModule } from './modules/rigs/rig-lifecycle.module';
import { RigBoardModule } from './modules/rigs/rig-board.module';
import { RigsModule } from './modules/rigs/rigs.module';
import { TemplatesModule } from './modules/templates/templates.module';
import { UsersModule } from './modules/users/users.module';
import type { Config } from './platform/config/config';
import { ConfigModule } from './platform/config/config.module';
import { DbModule } from './platform/db/db.module';
import { MetricsModule } from './platform/metrics/metrics.module';
import { QueueModule } from './platform/queue/queue.module';
import { RedisModule } from './platform/redis/redis.module';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Takes a caller's X-Request-Id when it is sane (so traces join up), else makes one; echoes it back. */
export function requestId(req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  res.setHeader('X-Request-Id', id);
  return id;
}

@Module({})
export class AppModule {
  static forRoot(config: Config): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot({
          pinoHttp: {
            level: config.logLevel,
            genReqId: requestId,
            redact: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
            autoLogging: { ignore: (req) => req.url === '/metrics' },
            customLogLevel: (_req, res, err) =>
              err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
          },
        }),
        DbModule,
        RedisModule,
        MetricsModule,
        QueueModule,
        AuditModule,
        UsersModule,
        CoursesModule,
        AuthModule,
        // Before RigsModule: its routes must win over `GET /api/rigs/:name` (see ReliabilityModule).
        ReliabilityModule,
        RigsModule,
        HealthModule,
        TemplatesModule,
        LabsModule,
        RigLifecycleModule,
        RigHealthModule,
        LedgerModule,
        ProxyModule,
        QuotaEnforcementModule,
        TelemetryModule,
        BurnInModule,
        // Last: its `GET /api/rigs/:name` must come after every fixed `/api/rigs/<word>` route.
        RigBoardModule,
      ],
      providers: [{ provide: APP_GUARD, useExisting: AuthGuard }],
    };
  }
}
