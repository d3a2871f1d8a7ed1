import { CoursesService } from '../../api/src/modules/courses/courses.service';
import { CourseMembersService } from '../../api/src/modules/courses/course-members.service';
import { CLI_ACTOR } from '../../api/src/modules/courses/actor';
import { Enrollment } from '../../api/src/modules/courses/course.entity';
import { User } from '../../api/src/modules/users/user.entity';
import { newCourse, newUser } from '../support/labs';
import { courseWorld } from './support';

describe(`${CoursesService.name}.syncSsoMemberships`, () => {
  const w = courseWorld();
  let courses: CoursesService;
  const rolesOf = async (user: User) =>
    Object.fromEntries(
      (await w.db.ds.getRepository(Enrollment).find({ where: { userId: user.id }, relations: { course: true } })).map(
        (e) => [`${e.course!.code}:${e.course!.term}`, `${e.role}/${e.source}`],
      ),
    );

  beforeAll(async () => {
    courses = w.portal.app.get(CoursesService);
    await newCourse(w.db.ds, 'MA201', '2026F');
    await newCourse(w.db.ds, 'PH110', '2026F');
  });

  it('creates memberships from the attributes and ignores courses riglab does not have', async () => {
    const u = await newUser(w.db.ds, 'sso1');
    const r = await courses.syncSsoMemberships(u.id, [
      { code: 'CS101', term: '2026F', role: 'student' },
      { code: 'ma201', term: '2026f', role: 'ta' },
      { code: 'XX999', term: '2026F', role: 'student' },
    ]);
    expect(r).toEqual({ added: 2, changed: 0, removed: 0, ignored: 1 });
    expect(await rolesOf(u)).toEqual({ 'CS101:2026F': 'student/sso', 'MA201:2026F': 'ta/sso' });
  });

  it('re-roles and removes SSO memberships at the next sign-in to match the attributes', async () => {
    const u = await w.db.ds.getRepository(User).findOneByOrFail({ username: 'sso1' });
    const r = await courses.syncSsoMemberships(u.id, [
      { code: 'CS101', term: '2026F', role: 'ta' },
      { code: 'PH110', term: '2026F', role: 'student' },
    ]);
    expect(r).toEqual({ added: 1, changed: 1, removed: 1, ignored: 0 });
    expect(await rolesOf(u)).toEqual({ 'CS101:2026F': 'ta/sso', 'PH110:2026F': 'student/sso' });
    expect(await courses.syncSsoMemberships(u.id, [])).toEqual({ added: 0, changed: 0, removed: 2, ignored: 0 });
    expect(await rolesOf(u)).toEqual({});
  });

  it('never changes or removes memberships made by hand or by CSV', async () => {
    const u = await newUser(w.db.ds, 'sso2');
    const cs101 = await courses.byCodeTerm('CS101', '2026F');
    const ma201 = await courses.byCodeTerm('MA201', '2026F');
    const members = w.portal.app.get(CourseMembersService);
    await members.put(CLI_ACTOR, cs101, 'sso2', 'ta');
    await members.importCsv(CLI_ACTOR, ma201, 'sso2,instructor\n', false);
    const r = await courses.syncSsoMemberships(u.id, [{ code: 'CS101', term: '2026F', role: 'student' }]);
    expect(r).toEqual({ added: 0, changed: 0, removed: 0, ignored: 0 });
    expect(await rolesOf(u)).toEqual({ 'CS101:2026F': 'ta/manual', 'MA201:2026F': 'instructor/csv' });
  });

  it('matches a placeholder made from a roster entry, so the first sign-in keeps it', async () => {
    const cs101 = await courses.byCodeTerm('CS101', '2026F');
    await w.portal.app.get(CourseMembersService).put(CLI_ACTOR, cs101, 'fresh', 'student');
    const placeholder = await w.db.ds.getRepository(User).findOneByOrFail({ username: 'fresh' });
    const r = await courses.syncSsoMemberships(placeholder.id, [{ code: 'PH110', term: '2026F', role: 'student' }]);
    expect(r.added).toBe(1);
    expect(await rolesOf(placeholder)).toEqual({ 'CS101:2026F': 'student/manual', 'PH110:2026F': 'student/sso' });
  });

  it('is safe to run twice at once (two sign-ins in parallel)', async () => {
    const u = await newUser(w.db.ds, 'sso3');
    const wanted = [{ code: 'CS101', term: '2026F', role: 'student' as const }];
    const results = await Promise.all([
      courses.syncSsoMemberships(u.id, wanted),
      courses.syncSsoMemberships(u.id, wanted),
    ]);
    expect(results.map((r) => r.added).sort()).toEqual([0, 1]);
    expect(await rolesOf(u)).toEqual({ 'CS101:2026F': 'student/sso' });
  });
});
