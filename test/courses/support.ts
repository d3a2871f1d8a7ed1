import request from 'supertest';
import { scopesFor } from '../../api/src/modules/auth/scopes';
import { TokensService } from '../../api/src/modules/auth/tokens.service';
import type { Course } from '../../api/src/modules/courses/course.entity';
import type { User } from '../../api/src/modules/users/user.entity';
import { migratedDatabase, startPortal, testConfig, type TestPortal } from '../support/app';
import { enroll, newCourse, newUser } from '../support/labs';

/** The cast of a course: one person per way of relating to it. */
export type Who = 'admin' | 'staff' | 'instructor' | 'ta' | 'student' | 'other';

export interface CourseWorld {
  db: Awaited<ReturnType<typeof migratedDatabase>>;
  portal: TestPortal;
  course: Course;
  users: Record<Who, User>;
  /** Bearer tokens with every scope each user's campus role allows. */
  tokens: Record<Who, string>;
  as(who: Who | null): {
    get(path: string): request.Test;
    post(path: string): request.Test;
    put(path: string): request.Test;
    patch(path: string): request.Test;
    delete(path: string): request.Test;
  };
}

/**
 * A portal of the test file's own (no workers, no Docker) with course CS101 2026F and its cast:
 * `instructor` (staff), `ta` and `student` (students) enrolled; `staff` and `other` not; `admin`.
 */
export function courseWorld(vars: Record<string, string> = {}): CourseWorld {
  const w = {} as CourseWorld;
  beforeAll(async () => {
    w.db = await migratedDatabase();
    w.portal = await startPortal(testConfig({ DATABASE_URL: w.db.url, RUN_WORKERS: 'false', ...vars }));
    const ds = w.db.ds;
    w.course = await newCourse(ds, 'CS101', '2026F');
    w.users = {
      admin: await newUser(ds, 'root', 'admin'),
      staff: await newUser(ds, 'stan', 'staff'),
      instructor: await newUser(ds, 'ines', 'staff'),
      ta: await newUser(ds, 'tara', 'student'),
      student: await newUser(ds, 'sam', 'student'),
      other: await newUser(ds, 'olga', 'student'),
    };
    await enroll(ds, w.users.instructor, w.course, 'instructor');
    await enroll(ds, w.users.ta, w.course, 'ta');
    await enroll(ds, w.users.student, w.course, 'student');
    const tokens = w.portal.app.get(TokensService);
    w.tokens = {} as Record<Who, string>;
    for (const [who, user] of Object.entries(w.users) as Array<[Who, User]>)
      w.tokens[who] = (await tokens.create(user, { scopes: [...scopesFor(user.campusRole)] })).token;
    w.as = (who) => {
      const auth = (t: request.Test) => (who ? t.set('Authorization', `Bearer ${w.tokens[who]}`) : t);
      const agent = request(w.portal.url);
      return {
        get: (p) => auth(agent.get(p)),
        post: (p) => auth(agent.post(p)),
        put: (p) => auth(agent.put(p)),
        patch: (p) => auth(agent.patch(p)),
        delete: (p) => auth(agent.delete(p)),
      };
    };
  });
  afterAll(async () => {
    await w.portal?.close();
    await w.db?.drop();
  });
  return w;
}

export async function auditActions(
  w: CourseWorld,
  prefix: string,
): Promise<Array<{ action: string; actor: string; detail: Record<string, unknown> }>> {
  return w.db.ds.query(`SELECT action, actor, detail FROM audit_events WHERE action LIKE $1 ORDER BY id`, [
    `${prefix}%`,
  ]);
}
