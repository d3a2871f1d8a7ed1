import { DynamicModule, Global, Module } from '@nestjs/common';
import type { Config } from './config';

export const CONFIG = Symbol('riglab.config');

@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: Config): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: CONFIG, useValue: config }], exports: [CONFIG] };
  }
}
