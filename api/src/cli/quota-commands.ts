import type { INestApplicationContext } from '@nestjs/common';
import { Command, InvalidArgumentError } from 'commander';
import { CLI_ACTOR } from '../modules/courses/actor';
import { CoursesService } from '../modules/courses/courses.service';
import { QuotaService } from '../modules/quota/quota.service';
import { UsageService } from '../modules/quota/usage.service';
import { courseArg, table } from './output';

/** What the quota commands borrow from main.ts. */
export interface QuotaCliDeps {
  withApp: <T>(work: (app: INestApplicationContext) => Promise<T>) => Promise<T>;
  print: (text: string) => void;
}

/** A number, or `none` for no limit (kept as 'none': commander turns a parser's null into ''). */
const limitArg = (name: string) => (v: string) => {
  if (v === 'none') return 'none' as const;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a number, or none for no limit`);
  return n;
};

/** `MODEL=RATE`, repeatable: `--rate "RTX 3060=2" --rate "GTX 1070=1"`. */
const rateArg = (v: string, acc: Record<string, number> = {}) => {
  const m = /^(.+)=([\d.]+)$/.exec(v);
  if (!m) throw new InvalidArgumentError(`give a rate as MODEL=RATE, e.g. "RTX 3060=2" (got '${v}')`);
  return { ...acc, [m[1].trim()]: Number(m[2]) };
};

const fmt = (v: number | null) => (v === null ? 'no limit' : String(v));

export function addQuotaCommands(program: Command, { withApp, print }: QuotaCliDeps): void {
  const quota = program.command('quota').description("course quotas: campus IT's ceiling, and what is in force");
  quota
    .command('show')
    .description('show a course quota: the ceiling, the instructors’ tightening and the limits in force')
    .requiredOption('--course <CODE:TERM>', 'the course, e.g. CS101:2026F', courseArg)
    .option('--json', 'print JSON')
    .action(async (o: { course: { code: string; term: string }; json?: boolean }) =>
      withApp(async (app) => {
        const course = await app.get(CoursesService).byCodeTerm(o.course.code, o.course.term);
        const v = await app.get(QuotaService).view(course);
        if (o.json) return print(JSON.stringify(v, null, 2));
        const keys = [
          'maxConcurrentLabs',
          'cpuHoursPerWeek',
          'gpuMinutesPerWeek',
          'coursePoolGpuMinutesPerWeek',
          'sliceMinutes',
        ] as const;
        print(
          table(
            keys.map((k) => ({
              limit: k,
              ceiling: fmt(v.ceiling[k]),
              tightened: v.tightening[k] ?? '-',
              inForce: fmt(v.effective[k]),
            })),
            ['limit', 'ceiling', 'tightened', 'inForce'],
          ),
        );
        const rates = Object.entries(v.effective.gpuRates);
        print(`GPU rates: ${rates.length ? rates.map(([m, r]) => `${m}=${r}`).join(', ') : "each GPU's own rate"}`);
        print(`last changed by ${v.updatedBy}${v.updatedAt ? ` at ${v.updatedAt.toISOString()}` : ''}`);
      }),
    );
  quota
    .command('set')
    .description("set a course's quota ceiling as campus IT (instructors may tighten it in the portal)")
    .requiredOption('--course <CODE:TERM>', 'the course, e.g. CS101:2026F', courseArg)
    .option('--max-labs <n|none>', 'labs a student may have live at once', limitArg('--max-labs'))
    .option('--cpu-hours <n|none>', 'CPU core-hours per student per week', limitArg('--cpu-hours'))
    .option('--gpu-minutes <n|none>', 'GPU-minutes per student per week', limitArg('--gpu-minutes'))
    .option('--pool <n|none>', 'GPU-minutes the whole course may use per week', limitArg('--pool'))
    .option('--slice-minutes <n>', 'longest a GPU lab holds its GPU at once', limitArg('--slice-minutes'))
    .option('--rate <MODEL=RATE>', 'GPU-minutes charged per minute on that model (repeatable)', rateArg)
    .action(
      async (o: {
        course: { code: string; term: string };
        maxLabs?: number | 'none';
        cpuHours?: number | 'none';
        gpuMinutes?: number | 'none';
        pool?: number | 'none';
        sliceMinutes?: number | 'none';
        rate?: Record<string, number>;
      }) =>
        withApp(async (app) => {
          const course = await app.get(CoursesService).byCodeTerm(o.course.code, o.course.term);
          const ceiling = Object.fromEntries(
            Object.entries({
              maxConcurrentLabs: o.maxLabs,
              cpuHoursPerWeek: o.cpuHours,
              gpuMinutesPerWeek: o.gpuMinutes,
              coursePoolGpuMinutesPerWeek: o.pool,
              sliceMinutes: o.sliceMinutes,
              gpuRates: o.rate,
            })
              .filter(([, v]) => v !== undefined)
              .map(([k, v]) => [k, v === 'none' ? null : v]),
          );
          const v = await app.get(QuotaService).update(CLI_ACTOR, course, { ceiling });
          print(
            `quota of ${course.code} ${course.term}: ${fmt(v.effective.gpuMinutesPerWeek)} GPU-minutes and ${fmt(v.effective.cpuHoursPerWeek)} CPU-hours per student per week, ${fmt(v.effective.maxConcurrentLabs)} labs at once, slices of ${v.effective.sliceMinutes} min, course pool ${fmt(v.effective.coursePoolGpuMinutesPerWeek)}`,
          );
        }),
    );

  program
    .command('usage')
    .description("this week's consumption: every course, or one course's students")
    .option('--course <CODE:TERM>', "one course's students", courseArg)
    .option('--json', 'print JSON')
    .action(async (o: { course?: { code: string; term: string }; json?: boolean }) =>
      withApp(async (app) => {
        const usage = app.get(UsageService);
        if (o.course) {
          const course = await app.get(CoursesService).byCodeTerm(o.course.code, o.course.term);
          const u = await usage.forCourse(course);
          if (o.json) return print(JSON.stringify(u, null, 2));
          print(
            table(
              u.students.map((s) => ({
                student: s.username,
                gpuUsed: s.gpuMinutes.used,
                gpuLeft: s.gpuMinutes.left ?? 'no limit',
                cpuHoursUsed: s.cpuHours.used,
              })),
              ['student', 'gpuUsed', 'gpuLeft', 'cpuHoursUsed'],
            ),
          );
          return;
        }
        const all = await usage.allCourses();
        if (o.json) return print(JSON.stringify(all, null, 2));
        print(
          table(
            all.courses.map((c) => ({
              course: `${c.course.code}:${c.course.term}`,
              students: c.students,
              gpuMinutes: c.gpuMinutesThisWeek,
              cpuHours: c.cpuHoursThisWeek,
              poolLeft: c.pool.left ?? 'no pool',
              running: c.labsRunning,
              gpuQueue: c.gpuQueued,
            })),
            ['course', 'students', 'gpuMinutes', 'cpuHours', 'poolLeft', 'running', 'gpuQueue'],
          ),
        );
      }),
    );
}
