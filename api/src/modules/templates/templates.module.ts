import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LabTemplate, LabTemplateVersion, StarterArchive } from './lab-template.entity';
import { StarterStore } from './starter-store';
import { TemplatesController } from './templates.controller';
import { TemplatesService } from './templates.service';

@Module({
  imports: [TypeOrmModule.forFeature([LabTemplate, LabTemplateVersion, StarterArchive])],
  controllers: [TemplatesController],
  providers: [TemplatesService, StarterStore],
  exports: [TemplatesService],
})
export class TemplatesModule {}
