import { INestApplicationContext } from '@nestjs/common';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { CoursesService } from '../modules/courses/courses.service';
import { RigsService } from '../modules/rigs/rigs.service';
import { CLI_ACTOR } from '../modules/courses/actor';
import { importTemplate } from '../modules/templates/template-import';
import { TemplatesService } from '../modules/templates/templates.service';
import { UsersService } from '../modules/users/users.service';

export const DEMO_USERS = [
  { username: 'student', displayName: 'Sam Student', campusRole: 'student', courseRole: 'student' },
  { username: 'instructor', displayName: 'Ida Instructor', campusRole: 'staff', courseRole: 'instructor' },
  { username: 'admin', displayName: 'Campus IT', campusRole: 'admin', courseRole: null },
] as const;

/**
 * The demo a newcomer sees after `npm run up`: one course with a published template, a student, an
 * instructor, an admin, and this machine's engine as a rig. Every step is "ensure", so a second run
 * changes nothing.
 */
export async function seedDemo(
  app: INestApplicationContext,
  templatesDir: string,
  image: string,
  rigEndpoint: string,
): Promise<string> {
  const users = app.get(UsersService);
  const courses = app.get(CoursesService);
  const course = await courses.ensure({ code: 'CS101', term: '2026F', title: 'Introduction to Programming' });
  for (const u of DEMO_USERS) {
    const user = await users.ensure({
      username: u.username,
      displayName: u.displayName,
      campusRole: u.campusRole,
      email: `${u.username}@uni.example`,
    });
    if (u.courseRole) await courses.ensureMember(course.id, user.id, u.courseRole);
  }
  const imported = await importTemplate(
    app.get(TemplatesService),
    { ...CLI_ACTOR, name: 'seed' },
    course,
    join(templatesDir, 'python-basics'),
    templatesDir,
    { image, publish: true },
  );
  await app.get(RigsService).ensure({
    name: 'local',
    endpoint: rigEndpoint,
    cpus: Math.max(1, cpus().length),
    memoryMb: Math.max(1024, Math.floor(totalmem() / 1024 / 1024 / 2)),
    driver: 'none',
    // The demo's only rig takes labs at once; real rigs pass burn-in first.
    activate: "demo seed: this machine's engine",
  });
  return `demo ready: course CS101 (2026F), template '${imported.slug}' v${imported.version} on ${image}, users ${DEMO_USERS.map((u) => u.username).join(', ')}, rig 'local'`;
}
