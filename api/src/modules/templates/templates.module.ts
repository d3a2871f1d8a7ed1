import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LabTemplate, LabTemplateVersion } from './lab-template.entity';
import { TemplatesService } from './templates.service';

@Module({
  imports: [TypeOrmModule.forFeature([LabTemplate, LabTemplateVersion])],
  providers: [TemplatesService],
  exports: [TemplatesService],
})
export class TemplatesModule {}
