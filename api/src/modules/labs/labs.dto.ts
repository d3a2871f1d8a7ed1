import { ApiProperty } from '@nestjs/swagger';
import { IsUUID } from 'class-validator';

export class LaunchLabDto {
  @ApiProperty({ description: 'the lab template to launch (GET /api/labs/launchable)' })
  @IsUUID('all', { message: 'templateId must be a template id (a UUID)' })
  templateId!: string;
}
