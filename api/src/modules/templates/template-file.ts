import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/** The shape of `course-templates/<slug>/template.json`: a lab template kept as data. */
export const templateFileSchema = z.object({
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'slug must be 1-63 characters a-z, 0-9 or -'),
  title: z.string().min(1).max(200),
  description: z.string().max(5000).default(''),
  image: z.object({ recipe: z.string().min(1) }),
  resources: z.object({
    cpus: z.number().positive().max(64),
    memoryMb: z.number().int().min(128).max(262144),
    pids: z.number().int().min(32).max(65536).default(512),
  }),
  gpu: z
    .object({
      required: z.boolean(),
      models: z.array(z.string()).optional(),
      driverKinds: z.array(z.string()).optional(),
      minVramMb: z.number().int().positive().optional(),
    })
    .default({ required: false }),
  idleTimeoutMinutes: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .default(30),
  maxAgeHours: z
    .number()
    .positive()
    .max(24 * 14)
    .default(8),
  starterFiles: z.string().optional(),
});

export type TemplateFile = z.infer<typeof templateFileSchema>;

export function readTemplateFile(dir: string): TemplateFile {
  const file = join(dir, 'template.json');
  if (!existsSync(file)) throw new Error(`${file} does not exist`);
  const parsed = templateFileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new Error(
      `${file} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}
