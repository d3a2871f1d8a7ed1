import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsArray, IsOptional, IsString, Length, Matches } from 'class-validator';

export class CreateTokenDto {
  @ApiPropertyOptional({ example: 'grading script' })
  @IsOptional()
  @IsString()
  @Length(0, 100)
  name?: string;

  @ApiPropertyOptional({ example: ['read', 'labs'] })
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  scopes?: string[];

  @ApiPropertyOptional({ example: '30d', description: '30d, 12h, 90m, 2w, an ISO date, or never' })
  @IsOptional()
  @IsString()
  @Matches(/^(never|\d{1,5}[mhdw]|\d{4}-\d{2}-\d{2}.*)$/, {
    message: 'expires must be like 30d, 12h, 90m, 2w, an ISO date, or never',
  })
  expires?: string;
}
