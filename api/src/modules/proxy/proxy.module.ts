import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { LabProxyService } from './lab-proxy.service';
import { LabsModule } from '../labs/labs.module';

@Module({ imports: [AuthModule, LabsModule], providers: [LabProxyService], exports: [LabProxyService] })
export class ProxyModule {}
