import { Module } from '@nestjs/common';
import { RigsModule } from '../rigs/rigs.module';
import { HealthController } from './health.controller';
import { HealthService } from './health.service';

@Module({ imports: [RigsModule], controllers: [HealthController], providers: [HealthService] })
export class HealthModule {}
