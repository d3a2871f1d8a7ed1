import type { INestApplicationContext } from '@nestjs/common';
import { Command, InvalidArgumentError } from 'commander';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { CLI_ACTOR } from '../modules/courses/actor';
import { CoursesService } from '../modules/courses/courses.service';
import { TemplateFileError } from '../modules/templates/template-file';
import { importTemplate } from '../modules/templates/template-import';
import { TemplatesService } from '../modules/templates/templates.service';
import { courseArg, table } from './output';

/** What the template commands borrow from main.ts. */
export interface TemplateCliDeps {
  withApp: <T>(work: (app: INestApplicationContext) => Promise<T>) => Promise<T>;
  print: (text: string) => void;
  /** An error for a command line that makes no sense as given (exit 2). */
  usageError: (message: string) => Error;
  projectRoot: () => string;
}

/**
 * Builds the template's image with infra/lab-image.sh (against DOCKER_HOST, as the script reads it)
 * and returns the tag it prints. Its progress goes to our stderr so the operator sees it.
 */
function buildImage(root: string, dir: string, usageError: (m: string) => Error): string {
  const r = spawnSync('bash', [join(root, 'infra', 'lab-image.sh'), dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  const tag = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !tag)
    throw usageError(`building the image of ${dir} failed (infra/lab-image.sh exit ${r.status})`);
  return tag;
}

export function addTemplateCommands(program: Command, deps: TemplateCliDeps): void {
  const { withApp, print, usageError } = deps;
  const template = program.command('template').description('lab templates of courses');

  template
    .command('import <path>')
    .description(
      'load a template folder (template.json, starter files, image recipe) into a course; unchanged templates change nothing',
    )
    .requiredOption('--course <CODE:TERM>', 'the course, e.g. CS101:2026F', courseArg)
    .option('--image <tag>', "the lab image to use (default: the recipe's tag, as infra/lab-image.sh names it)")
    .option('--build', 'build the image with infra/lab-image.sh first (against DOCKER_HOST)')
    .option('--publish', 'publish the imported version: students can launch it')
    .action(
      async (
        path: string,
        o: { course: { code: string; term: string }; image?: string; build?: boolean; publish?: boolean },
      ) => {
        if (o.image && o.build) throw usageError('give --image or --build, not both');
        const root = deps.projectRoot();
        const dir = resolve(path);
        const image = o.build ? buildImage(root, dir, usageError) : o.image;
        await withApp(async (app) => {
          const course = await app.get(CoursesService).byCodeTerm(o.course.code, o.course.term);
          let r;
          try {
            r = await importTemplate(
              app.get(TemplatesService),
              CLI_ACTOR,
              course,
              dir,
              join(root, 'course-templates'),
              {
                image,
                publish: o.publish,
              },
            );
          } catch (err) {
            if (err instanceof TemplateFileError) throw usageError(err.message);
            throw err;
          }
          const where = `${course.code} ${course.term}`;
          const what = r.created
            ? `imported '${r.slug}' into ${where} as version ${r.version} (${r.changed.join(', ')})`
            : r.changed.length
              ? `updated '${r.slug}' in ${where} (${r.changed.join(', ')}); version ${r.version} unchanged`
              : `'${r.slug}' in ${where} is unchanged (version ${r.version})`;
          const pub = r.publishedNow
            ? `; published version ${r.version}`
            : r.published
              ? '; published'
              : '; not published (use --publish)';
          print(`${what}; image ${r.image}${pub}`);
        });
      },
    );

  template
    .command('list')
    .description('list templates with their published and latest versions')
    .option('--course <CODE:TERM>', 'only this course', courseArg)
    .option('--json', 'print JSON')
    .action(async (o: { course?: { code: string; term: string }; json?: boolean }) =>
      withApp(async (app) => {
        const courses = app.get(CoursesService);
        const list = o.course ? [await courses.byCodeTerm(o.course.code, o.course.term)] : await courses.list();
        const rows = [];
        for (const c of list)
          for (const t of await app.get(TemplatesService).list(c, false))
            rows.push({
              course: `${c.code}:${c.term}`,
              slug: t.slug,
              title: t.title,
              published: t.published,
              current: t.currentVersion,
              latest: t.latestVersion,
              image: t.current?.image ?? null,
              gpu: t.current?.gpu.words ?? null,
            });
        print(
          o.json
            ? JSON.stringify(rows, null, 2)
            : table(rows, ['course', 'slug', 'title', 'published', 'current', 'latest', 'image']),
        );
      }),
    );

  for (const verb of ['publish', 'unpublish'] as const)
    template
      .command(`${verb} <slug>`)
      .description(
        verb === 'publish'
          ? 'publish a version (default the latest): new launches use it'
          : 'hide a template from students; running labs carry on',
      )
      .requiredOption('--course <CODE:TERM>', 'the course, e.g. CS101:2026F', courseArg)
      .option('--version <n>', 'the version to publish (default the latest)', (v) => {
        if (!/^[1-9]\d*$/.test(v)) throw new InvalidArgumentError('--version must be a whole number from 1');
        return Number(v);
      })
      .action(async (slug: string, o: { course: { code: string; term: string }; version?: number }) =>
        withApp(async (app) => {
          if (verb === 'unpublish' && o.version) throw usageError('unpublish takes no --version');
          const templates = app.get(TemplatesService);
          const course = await app.get(CoursesService).byCodeTerm(o.course.code, o.course.term);
          const t = await templates.bySlug(course, slug);
          const after =
            verb === 'publish'
              ? await templates.publish(CLI_ACTOR, course, t.id, o.version)
              : await templates.unpublish(CLI_ACTOR, course, t.id);
          print(
            verb === 'publish'
              ? `'${slug}' in ${course.code} ${course.term} is published at version ${after.currentVersion}`
              : `'${slug}' in ${course.code} ${course.term} is unpublished${t.published ? '' : ' (it was already)'}`,
          );
        }),
      );
}
