import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { z } from 'zod';
import { checkDraft, type TemplateDraft } from './templates.policy';

/**
 * The shape of `course-templates/<slug>/template.json`: a lab template kept as data. The fields a
 * lab uses are checked by the same rules as the API (templates.policy), once the image tag is known.
 */
export const templateFileSchema = z
  .object({
    slug: z.string(),
    title: z.string(),
    description: z.string().default(''),
    image: z.object({ recipe: z.string().min(1) }).strict(),
    resources: z.object({ cpus: z.number(), memoryMb: z.number(), pids: z.number().default(512) }).strict(),
    gpu: z.record(z.unknown()).default({ mode: 'none' }),
    idleTimeoutMinutes: z.number().default(30),
    /** `maxAgeHours` is the older name of `maxSessionHours`. */
    maxSessionHours: z.number().optional(),
    maxAgeHours: z.number().optional(),
    env: z.record(z.string()).default({}),
    /** A folder inside the template folder. */
    starterFiles: z.string().optional(),
  })
  .strict();

export type TemplateFile = z.infer<typeof templateFileSchema>;

export class TemplateFileError extends Error {}

export function readTemplateFile(dir: string): TemplateFile {
  const file = join(dir, 'template.json');
  if (!existsSync(file)) throw new TemplateFileError(`${file} does not exist`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new TemplateFileError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = templateFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new TemplateFileError(
      `${file} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

/**
 * The template file as an API draft: the image is the tag built from its recipe, the starter folder
 * a path under course-templates/ (`templatesRoot`).
 */
export function draftOfFile(dir: string, templatesRoot: string, file: TemplateFile, image: string): TemplateDraft {
  const starter = file.starterFiles ? relative(templatesRoot, join(dir, file.starterFiles)) : null;
  if (starter && (starter.startsWith('..') || !existsSync(join(templatesRoot, starter))))
    throw new TemplateFileError(
      `${join(dir, 'template.json')}: starterFiles '${file.starterFiles}' must be a folder inside the template, under course-templates/`,
    );
  const checked = checkDraft({
    slug: file.slug,
    title: file.title,
    description: file.description,
    image,
    cpus: file.resources.cpus,
    memoryMb: file.resources.memoryMb,
    pids: file.resources.pids,
    gpu: file.gpu,
    idleTimeoutMinutes: file.idleTimeoutMinutes,
    maxSessionHours: file.maxSessionHours ?? file.maxAgeHours ?? 8,
    env: file.env,
    starterFolder: starter,
  });
  if (!checked.ok)
    throw new TemplateFileError(`${join(dir, 'template.json')} is invalid: ${checked.problems.join('; ')}`);
  return checked.value;
}

/**
 * The tag infra/lab-image.sh gives the template's image: `riglab/lab-<slug>:<hash>`, where hash is
 * the first 12 hex digits of sha256 over "<sha256 of file>  <relative path>\n" for each regular file
 * of the recipe folder, sorted bytewise by path — the same rule, so an unchanged recipe is the same tag.
 */
export function recipeTag(dir: string, file: TemplateFile): string {
  const recipe = join(dir, file.image.recipe);
  if (file.image.recipe.includes('/') || file.image.recipe.startsWith('.') || !existsSync(recipe))
    throw new TemplateFileError(
      `${join(dir, 'template.json')}: image.recipe '${file.image.recipe}' is not a folder of the template`,
    );
  const files: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const abs = join(d, name);
      const st = lstatSync(abs, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(abs);
      else if (st.isFile()) files.push(relative(recipe, abs));
    }
  };
  walk(recipe);
  files.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const listing = files
    .map(
      (f) =>
        `${createHash('sha256')
          .update(readFileSync(join(recipe, f)))
          .digest('hex')}  ${f}\n`,
    )
    .join('');
  return `riglab/lab-${file.slug || basename(dir)}:${createHash('sha256').update(listing).digest('hex').slice(0, 12)}`;
}
