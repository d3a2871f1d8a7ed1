import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Config } from '../config/config';
import { CONFIG } from '../config/config.module';
import { dataSourceOptions } from './data-source';

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [CONFIG],
      useFactory: (config: Config) => ({
        ...dataSourceOptions(config.databaseUrl),
        // Boot must not hang for minutes when Postgres is away: fail and say so.
        retryAttempts: 3,
        retryDelay: 1000,
      }),
    }),
  ],
})
export class DbModule {}
