import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsObject, IsOptional } from 'class-validator';

const LIMITS_DOC =
  'maxConcurrentLabs, cpuHoursPerWeek, gpuMinutesPerWeek, coursePoolGpuMinutesPerWeek (numbers, or null for no limit), sliceMinutes';

/** The fields inside are checked by quota.policy.ts, which names each bad one. */
export class UpdateQuotaDto {
  @ApiPropertyOptional({
    description: `campus IT only: ${LIMITS_DOC}, gpuRates ({"RTX 3060": 2})`,
    example: { gpuMinutesPerWeek: 240, sliceMinutes: 60, gpuRates: { 'RTX 3060': 2 } },
  })
  @IsOptional()
  @IsObject({ message: 'ceiling must be an object' })
  ceiling?: Record<string, unknown>;

  @ApiPropertyOptional({
    description: `instructors: ${LIMITS_DOC}; each at most the ceiling; null clears`,
    example: { gpuMinutesPerWeek: 90 },
  })
  @IsOptional()
  @IsObject({ message: 'tightening must be an object' })
  tightening?: Record<string, unknown>;
}
