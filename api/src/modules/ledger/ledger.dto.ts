import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsNumber, IsOptional, IsString, Length, Matches, Max, Min, NotEquals } from 'class-validator';

const AMOUNT = { allowNaN: false, allowInfinity: false, maxDecimalPlaces: 4 };
const AMOUNT_LIMIT = 1_000_000;

export class AdjustmentDto {
  @ApiProperty({ example: 'sam' }) @IsString() @Length(1, 64) username!: string;
  @ApiProperty({ example: 'CS101:2026F', description: 'the course id, or CODE:TERM' })
  @IsString()
  @Length(1, 100)
  course!: string;
  @ApiPropertyOptional({ example: 30, description: 'signed GPU-minutes: positive gives, negative takes' })
  @IsOptional()
  @IsNumber(AMOUNT, { message: 'gpuMinutes must be a number with at most 4 decimals' })
  @NotEquals(0, { message: 'gpuMinutes must not be 0 (leave it out instead)' })
  @Min(-AMOUNT_LIMIT)
  @Max(AMOUNT_LIMIT)
  gpuMinutes?: number;
  @ApiPropertyOptional({ example: -60, description: 'signed CPU core-minutes' })
  @IsOptional()
  @IsNumber(AMOUNT, { message: 'cpuMinutes must be a number with at most 4 decimals' })
  @NotEquals(0, { message: 'cpuMinutes must not be 0 (leave it out instead)' })
  @Min(-AMOUNT_LIMIT)
  @Max(AMOUNT_LIMIT)
  cpuMinutes?: number;
  @ApiProperty({ example: 'GPU rig-03 crashed during the exam: minutes given back' })
  @IsString()
  @Length(3, 500, { message: 'reason must be 3 to 500 characters: say why, for the audit' })
  reason!: string;
}

export class LedgerQueryDto {
  @ApiPropertyOptional({ description: 'only this username' }) @IsOptional() @IsString() @Length(1, 64) user?: string;
  @ApiPropertyOptional({ description: 'only this course: its id, or CODE:TERM' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  course?: string;
  @ApiPropertyOptional({ description: 'at most this many entries (1..500, default 50)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'limit must be a whole number' })
  @Min(1)
  @Max(500)
  limit?: number;
  @ApiPropertyOptional({ description: 'entries before this seq (the `nextBefore` of the previous page)' })
  @IsOptional()
  @Matches(/^[1-9]\d{0,17}$/, { message: 'before must be a seq (a positive whole number)' })
  before?: string;
}

export const EXPORT_FORMATS = ['csv', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export class ExportQueryDto {
  @ApiPropertyOptional({ enum: EXPORT_FORMATS, description: 'default csv' })
  @IsOptional()
  @IsIn(EXPORT_FORMATS, { message: 'format must be csv or json' })
  format?: ExportFormat;
}
