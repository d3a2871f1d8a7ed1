import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length } from 'class-validator';
import { RIG_STATES, RigState } from './rig.entity';

export class RigStateDto {
  @ApiProperty({ enum: RIG_STATES, example: 'maintenance' }) @IsIn(RIG_STATES) to!: RigState;
  @ApiProperty({ example: 'fan on GPU 2 rattles' }) @IsString() @Length(1, 500) reason!: string;
  @ApiPropertyOptional({
    example: '30m',
    description:
      'how long running labs may go on when the rig drains: 90s, 30m, 2h (default RIG_DRAIN_DEADLINE_MINUTES)',
  })
  @IsOptional()
  @IsString()
  deadline?: string;
}
