import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

/**
 * Create and edit bodies are checked by templates.policy (zod), the same rules template.json files
 * follow; this is their shape for the OpenAPI document.
 */
export const TEMPLATE_BODY_SCHEMA = {
  type: 'object',
  example: {
    slug: 'ml-gpu',
    title: 'Machine learning on a GPU',
    description: 'Train a small network',
    image: 'riglab/lab-ml-gpu:0123456789ab',
    cpus: 2,
    memoryMb: 4096,
    pids: 512,
    gpu: { mode: 'shared', minVramMb: 4096, models: ['GTX 1070'], driverKinds: ['nvidia'], allowCpuFallback: true },
    idleTimeoutMinutes: 30,
    maxSessionHours: 4,
    env: { OMP_NUM_THREADS: '2' },
    starterFolder: 'ml-gpu/starter',
  },
  description:
    'create: slug, title, image, cpus, memoryMb required; edit (PATCH): any field but slug. gpu.mode: none | whole | shared (with minVramMb). env names A-Z0-9_, not JUPYTER_* or RIGLAB_*. starterFolder: a folder under course-templates/.',
};

export class PublishTemplateDto {
  @ApiPropertyOptional({ description: 'the version to publish; default the latest' })
  @IsOptional()
  @IsInt({ message: 'version must be a whole number' })
  @Min(1, { message: 'version must be at least 1' })
  @Max(1_000_000)
  version?: number;
}
