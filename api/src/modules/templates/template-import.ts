import { join, resolve } from 'node:path';
import type { Actor } from '../courses/actor';
import type { Course } from '../courses/course.entity';
import { draftOfFile, readTemplateFile, recipeTag } from './template-file';
import type { TemplatesService } from './templates.service';

export interface ImportResult {
  slug: string;
  image: string;
  version: number;
  /** A new version was written. */
  created: boolean;
  /** Fields that differed from the latest version (empty: nothing changed). */
  changed: string[];
  published: boolean;
  /** This import published (or republished) it. */
  publishedNow: boolean;
}

/**
 * Loads `dir/template.json` into a course: a new version only when something a lab uses changed
 * (so importing an unchanged template twice changes nothing), published when asked. The image is
 * the tag infra/lab-image.sh gives the recipe unless `image` overrides it.
 */
export async function importTemplate(
  templates: TemplatesService,
  actor: Actor,
  course: Course,
  dir: string,
  templatesRoot: string,
  opts: { image?: string; publish?: boolean } = {},
): Promise<ImportResult> {
  const abs = resolve(dir);
  const file = readTemplateFile(abs);
  const image = opts.image ?? recipeTag(abs, file);
  const draft = draftOfFile(abs, resolve(templatesRoot), file, image);
  const saved = await templates.save(actor, course, draft);
  let template = saved.template;
  let publishedNow = false;
  if (opts.publish && !(template.published && template.currentVersion === saved.version.version)) {
    template = await templates.publish(actor, course, template.id, saved.version.version);
    publishedNow = true;
  }
  return {
    slug: draft.slug,
    image,
    version: saved.version.version,
    created: saved.created,
    changed: saved.changed,
    published: template.published,
    publishedNow,
  };
}

export const templateDir = (templatesRoot: string, slug: string) => join(templatesRoot, slug);
