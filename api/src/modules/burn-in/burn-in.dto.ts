import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length } from 'class-validator';

export class BurnInStartDto {
  @ApiPropertyOptional({
    example: 'riser on GPU 2 replaced',
    description: "why (kept in the rig's history and the audit log); default 'burn-in asked by <you>'",
  })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  reason?: string;
}
