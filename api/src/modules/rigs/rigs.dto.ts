import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Length, Max, Min, ValidateNested } from 'class-validator';
import { Type } from 'class-transformer';
import { GPU_DRIVER_KINDS, GpuDriverKind } from './rig.entity';

export class RigTlsDto {
  @ApiProperty() @IsString() ca!: string;
  @ApiProperty() @IsString() cert!: string;
  @ApiProperty() @IsString() key!: string;
}

export class AddRigDto {
  @ApiProperty({ example: 'rig-07' }) @IsString() @Length(1, 64) name!: string;
  @ApiProperty({ example: 'tcp://rig-07.lab.example:2376' }) @IsString() @Length(1, 300) endpoint!: string;
  @ApiPropertyOptional({
    type: RigTlsDto,
    description: 'PEM file paths on the portal host (relative ones are under RIG_TLS_DIR)',
  })
  @IsOptional()
  @ValidateNested()
  @Type(() => RigTlsDto)
  tls?: RigTlsDto;
  @ApiPropertyOptional({
    example: 4,
    description: 'CPUs that labs may use on this rig (default: the CPUs found less RIG_RESERVE_CPUS)',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1024)
  cpus?: number;
  @ApiPropertyOptional({
    example: 8192,
    description: 'memory (MiB) that labs may use on this rig (default: the memory found less RIG_RESERVE_MEMORY_MB)',
  })
  @IsOptional()
  @IsInt()
  @Min(256)
  @Max(16_777_216)
  memoryMb?: number;
  @ApiPropertyOptional({ enum: GPU_DRIVER_KINDS }) @IsOptional() @IsIn(GPU_DRIVER_KINDS) driver?: GpuDriverKind;
  @ApiPropertyOptional({
    description: 'register even when the engine does not answer (state registered, with the reason)',
  })
  @IsOptional()
  @IsBoolean()
  offline?: boolean;
  @ApiPropertyOptional({ description: 'register the GPUs found, one slot each (default true)' })
  @IsOptional()
  @IsBoolean()
  gpus?: boolean;
}

export class RediscoverRigDto {
  @ApiPropertyOptional({ description: 'register GPUs found under a new index (default true)' })
  @IsOptional()
  @IsBoolean()
  gpus?: boolean;
}
