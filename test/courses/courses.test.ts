import { Course, Enrollment } from '../../api/src/modules/courses/course.entity';
import { User } from '../../api/src/modules/users/user.entity';
import request from 'supertest';
import { TokensService } from '../../api/src/modules/auth/tokens.service';
import { enroll, newTemplate, newUser } from '../support/labs';
import { auditActions, courseWorld } from './support';

describe('courses API', () => {
  const w = courseWorld();
  const base = () => `/api/courses/${w.course.id}`;

  describe('creating', () => {
    it('lets staff create a course and makes them its instructor; an admin creates without joining', async () => {
      const made = await w
        .as('staff')
        .post('/api/courses')
        .send({ code: 'MA201', term: '2026F', title: 'Linear algebra' });
      expect(made.status).toBe(201);
      expect(made.body).toMatchObject({
        code: 'MA201',
        term: '2026F',
        title: 'Linear algebra',
        role: 'instructor',
        memberCount: 1,
        settings: { instructorNotebookAccess: false },
        templates: [],
      });
      const byAdmin = await w
        .as('admin')
        .post('/api/courses')
        .send({ code: 'PH110', term: '2026F', title: 'Physics', settings: { instructorNotebookAccess: true } });
      expect(byAdmin.body).toMatchObject({ role: null, memberCount: 0, settings: { instructorNotebookAccess: true } });
      expect(await auditActions(w, 'course.create')).toEqual([
        expect.objectContaining({ actor: 'stan', detail: expect.objectContaining({ course: 'MA201 2026F' }) }),
        expect.objectContaining({ actor: 'root', detail: expect.objectContaining({ course: 'PH110 2026F' }) }),
      ]);
    });

    it('refuses students, duplicates, bad codes and unknown settings, saying why', async () => {
      const student = await w.as('student').post('/api/courses').send({ code: 'X1', term: '2026F', title: 'x' });
      expect([student.status, student.body.message]).toEqual([403, 'this needs the campus role admin or staff']);
      const dup = await w.as('admin').post('/api/courses').send({ code: 'cs101', term: '2026f', title: 'again' });
      expect([dup.status, dup.body.code, dup.body.message]).toEqual([
        409,
        'course.exists',
        'course CS101 2026F already exists',
      ]);
      const bad = await w.as('admin').post('/api/courses').send({ code: 'CS 101', term: '2026:F', title: 'x' });
      expect([bad.status, bad.body.message]).toEqual([
        400,
        "code 'CS 101' and term '2026:F' not allowed: use 1-40 letters, digits, '.', '_' or '-' (no spaces or colons)",
      ]);
      const settings = await w
        .as('admin')
        .post('/api/courses')
        .send({ code: 'X2', term: 'T', title: 'x', settings: { gpu: true } });
      expect([settings.status, settings.body.message]).toEqual([
        400,
        "unknown setting 'gpu'; known: instructorNotebookAccess",
      ]);
      const missing = await w.as('admin').post('/api/courses').send({ code: 'X3' });
      expect(missing.status).toBe(400);
      expect(missing.body.message).toMatch(/term must be/);
    });
  });

  describe('listing and reading', () => {
    it('shows admins every course and others their own, with their role and member count', async () => {
      const all = await w.as('admin').get('/api/courses');
      expect(all.body.map((c: { code: string }) => c.code).sort()).toEqual(['CS101', 'MA201', 'PH110']);
      const mine = await w.as('student').get('/api/courses');
      expect(mine.body).toEqual([
        {
          id: w.course.id,
          code: 'CS101',
          term: '2026F',
          title: 'CS101 test course',
          archivedAt: null,
          role: 'student',
          memberCount: 3,
          settings: { instructorNotebookAccess: false },
        },
      ]);
      expect((await w.as('other').get('/api/courses')).body).toEqual([]);
      expect((await w.as('ta').get('/api/courses')).body).toEqual([expect.objectContaining({ role: 'ta' })]);
    });

    it('gives a student their course with its published templates, and nobody else’s', async () => {
      await newTemplate(w.db.ds, w.course, { slug: 'intro', image: 'x' });
      await w.db.ds.query(
        `INSERT INTO lab_templates (course_id, slug, title, published) VALUES ($1, 'draft', 'Draft lab', false)`,
        [w.course.id],
      );
      const seen = await w.as('student').get(base());
      expect(seen.status).toBe(200);
      expect(seen.body).toMatchObject({ code: 'CS101', role: 'student' });
      expect(seen.body.templates).toEqual([expect.objectContaining({ slug: 'intro', published: true })]);
      const staffView = await w.as('ta').get(base());
      expect(staffView.body.templates.map((t: { slug: string }) => t.slug).sort()).toEqual(['draft', 'intro']);

      const outsider = await w.as('other').get(base());
      expect([outsider.status, outsider.body.code, outsider.body.message]).toEqual([
        403,
        'course.not_member',
        'you are not a member of CS101 2026F',
      ]);
      const unknown = await w.as('admin').get('/api/courses/00000000-0000-4000-8000-000000000000');
      expect([unknown.status, unknown.body.message]).toEqual([404, 'no course with that id']);
      expect((await w.as('admin').get('/api/courses/not-a-uuid')).status).toBe(404);
    });
  });

  describe('editing', () => {
    it('lets the instructor change title and settings, and records what changed', async () => {
      const res = await w
        .as('instructor')
        .patch(base())
        .send({ settings: { instructorNotebookAccess: true } });
      expect(res.status).toBe(200);
      expect(res.body.settings).toEqual({ instructorNotebookAccess: true });
      await w
        .as('instructor')
        .patch(base())
        .send({ settings: { instructorNotebookAccess: false } });
      const events = await auditActions(w, 'course.update');
      expect(events.at(-1)).toMatchObject({ actor: 'ines', detail: { settings: { instructorNotebookAccess: false } } });
    });

    it('lets a TA look but not change anything, with a message that says so', async () => {
      // A staff TA, whose token may carry courses:admin: the course role is what refuses.
      const tom = await newUser(w.db.ds, 'tom', 'staff');
      await enroll(w.db.ds, tom, w.course, 'ta');
      const { token } = await w.portal.app.get(TokensService).create(tom, { scopes: ['read', 'courses:admin'] });
      const res = await request(w.portal.url)
        .patch(base())
        .set('Authorization', `Bearer ${token}`)
        .send({ title: 'Mine now' });
      expect([res.status, res.body.code, res.body.message]).toEqual([
        403,
        'course.missing_role',
        'TAs of CS101 2026F may look but not change anything: this needs the course role instructor',
      ]);
      const student = await w.as('student').patch(base()).send({ title: 'Mine now' });
      expect([student.status, student.body.message]).toEqual([403, 'this token lacks the scope courses:admin']);
      await w.db.ds.getRepository(Enrollment).delete({ userId: tom.id });
      expect((await w.db.ds.getRepository(Course).findOneByOrFail({ id: w.course.id })).title).toBe(
        'CS101 test course',
      );
    });
  });

  describe('archiving', () => {
    it('makes an archived course refuse launches, and unarchiving admits them again', async () => {
      const template = await newTemplate(w.db.ds, w.course, { slug: 'archive-check', image: 'x' });
      const archived = await w.as('instructor').post(`${base()}/archive`);
      expect([archived.status, typeof archived.body.archivedAt]).toEqual([200, 'string']);

      const launch = await w.as('student').post('/api/labs').send({ templateId: template.id });
      expect([launch.status, launch.body.code, launch.body.message]).toEqual([
        409,
        'lab.course_archived',
        'course CS101 is archived: its labs cannot be launched',
      ]);
      expect((await w.as('student').get('/api/labs/launchable')).body).toEqual([]);
      expect((await w.as('student').get('/api/courses')).body).toEqual([]);
      expect((await w.as('student').get('/api/courses?archived=true')).body).toHaveLength(1);

      const back = await w.as('instructor').post(`${base()}/unarchive`);
      expect([back.status, back.body.archivedAt]).toEqual([200, null]);
      expect((await w.as('student').get('/api/labs/launchable')).body.length).toBeGreaterThan(0);
      expect((await auditActions(w, 'course.')).map((e) => e.action)).toEqual(
        expect.arrayContaining(['course.archive', 'course.unarchive']),
      );
      expect((await w.as('ta').post(`${base()}/archive`)).status).toBe(403);
    });
  });

  describe('members', () => {
    it('shows the roster to instructors and TAs, not to students', async () => {
      const roster = await w.as('ta').get(`${base()}/members`);
      expect(roster.status).toBe(200);
      expect(roster.body.map((m: { username: string; role: string }) => [m.username, m.role])).toEqual([
        ['ines', 'instructor'],
        ['tara', 'ta'],
        ['sam', 'student'],
      ]);
      expect(roster.body[0]).toEqual({
        username: 'ines',
        displayName: 'ines',
        email: 'ines@uni.example',
        role: 'instructor',
        source: 'manual',
        addedAt: expect.any(String),
      });
      const student = await w.as('student').get(`${base()}/members`);
      expect([student.status, student.body.message]).toEqual([
        403,
        'you are a student of CS101 2026F: this needs the course role instructor or ta',
      ]);
    });

    it('adds someone who never signed in as a placeholder student account that SSO sign-in will match', async () => {
      const res = await w.as('instructor').put(`${base()}/members/New.Comer`).send({ role: 'ta' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ username: 'new.comer', role: 'ta', source: 'manual' });
      const user = await w.db.ds.getRepository(User).findOneByOrFail({ username: 'new.comer' });
      expect(user.campusRole).toBe('student');
      const changed = await w.as('instructor').put(`${base()}/members/new.comer`).send({ role: 'student' });
      expect(changed.body.role).toBe('student');
      expect(await auditActions(w, 'course.member_')).toEqual([
        expect.objectContaining({
          action: 'course.member_add',
          detail: expect.objectContaining({ username: 'new.comer', role: 'ta' }),
        }),
        expect.objectContaining({
          action: 'course.member_change',
          detail: expect.objectContaining({ from: 'ta', role: 'student' }),
        }),
      ]);
    });

    it('refuses bad usernames and roles, TAs, and an instructor removing themselves', async () => {
      const badName = await w.as('instructor').put(`${base()}/members/9lives`).send({ role: 'student' });
      expect([badName.status, badName.body.message]).toEqual([
        400,
        "username '9lives' is not allowed: use 1-64 characters a-z, 0-9, '.', '_' or '-', starting with a letter",
      ]);
      const badRole = await w.as('instructor').put(`${base()}/members/sam`).send({ role: 'king' });
      expect([badRole.status, badRole.body.message]).toEqual([400, 'role must be one of student, ta, instructor']);
      const ta = await w.as('ta').put(`${base()}/members/sam`).send({ role: 'ta' });
      expect(ta.status).toBe(403);
      const self = await w.as('instructor').delete(`${base()}/members/ines`);
      expect([self.status, self.body.message]).toEqual([
        409,
        'you cannot remove yourself from a course you teach; ask another instructor or an admin',
      ]);
      const demote = await w.as('instructor').put(`${base()}/members/ines`).send({ role: 'ta' });
      expect(demote.status).toBe(409);
    });

    it('removes a member (204), and says so when someone is not a member', async () => {
      expect((await w.as('instructor').delete(`${base()}/members/new.comer`)).status).toBe(204);
      const again = await w.as('instructor').delete(`${base()}/members/new.comer`);
      expect([again.status, again.body.message]).toEqual([404, 'new.comer is not a member of CS101 2026F']);
      expect((await auditActions(w, 'course.member_remove')).length).toBe(1);
    });
  });

  describe('roster import', () => {
    const file = 'username,role\nsam,ta\nzoe,student\nIVY,student\ntara,ta\n';

    it('previews a file without writing anything', async () => {
      const res = await w.as('instructor').post(`${base()}/roster/import`).send({ csv: file, dryRun: true });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        rows: [
          { line: 2, username: 'sam', role: 'ta', action: 'change' },
          { line: 3, username: 'zoe', role: 'student', action: 'add' },
          { line: 4, username: 'ivy', role: 'student', action: 'add' },
          { line: 5, username: 'tara', role: 'ta', action: 'keep' },
        ],
        applied: false,
        summary: { add: 2, change: 1, keep: 1, error: 0 },
      });
      expect(await w.db.ds.getRepository(User).existsBy({ username: 'zoe' })).toBe(false);
    });

    it('writes nothing from a file with a bad row and answers 422 naming each problem', async () => {
      const bad = 'username,role\nzoe,student\nbob,professor\n\nzoe,ta\n';
      const res = await w.as('instructor').post(`${base()}/roster/import`).send({ csv: bad, dryRun: false });
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({
        code: 'course.roster_invalid',
        message: 'the roster file has 3 bad row(s); nothing was changed',
        applied: false,
        summary: { add: 1, change: 0, keep: 0, error: 3 },
      });
      expect(res.body.rows.filter((r: { action: string }) => r.action === 'error')).toEqual([
        {
          line: 3,
          username: 'bob',
          role: 'professor',
          action: 'error',
          error: "role 'professor' is not one of student, ta, instructor",
        },
        { line: 4, username: '', role: '', action: 'error', error: 'empty row' },
        { line: 5, username: 'zoe', role: 'ta', action: 'error', error: 'zoe is listed twice (first on line 2)' },
      ]);
      expect(await w.db.ds.getRepository(User).existsBy({ username: 'zoe' })).toBe(false);
      expect(await auditActions(w, 'course.roster_import')).toEqual([]);
    });

    it('applies a good file in one go, marking memberships as from CSV', async () => {
      const res = await w.as('instructor').post(`${base()}/roster/import`).send({ csv: file, dryRun: false });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ applied: true, summary: { add: 2, change: 1, keep: 1, error: 0 } });
      const roster = (await w.as('instructor').get(`${base()}/members`)).body as Array<{
        username: string;
        role: string;
        source: string;
      }>;
      expect(
        roster
          .filter((m) => ['sam', 'zoe', 'ivy', 'tara'].includes(m.username))
          .map((m) => [m.username, m.role, m.source]),
      ).toEqual([
        ['sam', 'ta', 'csv'],
        ['tara', 'ta', 'manual'],
        ['ivy', 'student', 'csv'],
        ['zoe', 'student', 'csv'],
      ]);
      expect(await auditActions(w, 'course.roster_import')).toEqual([
        expect.objectContaining({
          actor: 'ines',
          detail: expect.objectContaining({ summary: { add: 2, change: 1, keep: 1, error: 0 } }),
        }),
      ]);
      await w.as('instructor').put(`${base()}/members/sam`).send({ role: 'student' });
    });

    it('is for instructors only, and refuses a body without dryRun', async () => {
      const ta = await w.as('ta').post(`${base()}/roster/import`).send({ csv: file, dryRun: true });
      expect(ta.status).toBe(403);
      const noFlag = await w.as('instructor').post(`${base()}/roster/import`).send({ csv: file });
      expect([noFlag.status, noFlag.body.message]).toEqual([400, 'dryRun must be true or false']);
    });
  });

  describe('labs of a course', () => {
    it('shows instructors and TAs their students’ labs, with a link only where they may open them', async () => {
      const template = await newTemplate(w.db.ds, w.course, { slug: 'viewlab', image: 'x' });
      const version = await w.db.ds.query(`SELECT id FROM lab_template_versions WHERE template_id = $1`, [template.id]);
      await w.db.ds.query(
        `INSERT INTO lab_sessions (user_id, course_id, template_version_id, name, state, state_reason, endpoint, jupyter_token, ready_at)
         VALUES ($1, $2, $3, 'viewlab', 'ready', 'running', 'http://127.0.0.1:1', 'tok', now())`,
        [w.users.student.id, w.course.id, version[0].id],
      );
      const seen = await w.as('instructor').get(`${base()}/labs`);
      expect(seen.status).toBe(200);
      expect(seen.body).toEqual([
        {
          id: expect.any(String),
          username: 'sam',
          template: { id: template.id, slug: 'viewlab', title: 'Python basics' },
          state: 'ready',
          reason: 'running',
          createdAt: expect.any(String),
          readyAt: expect.any(String),
          url: null,
        },
      ]);
      expect((await w.as('admin').get(`${base()}/labs`)).body[0].url).toBe('/user/sam/viewlab/');
      expect((await w.as('ta').get(`${base()}/labs`)).body[0].url).toBeNull();
      await w.db.ds.getRepository(Course).update({ id: w.course.id }, { settings: { instructorNotebookAccess: true } });
      expect((await w.as('instructor').get(`${base()}/labs`)).body[0].url).toBe('/user/sam/viewlab/');
      expect((await w.as('ta').get(`${base()}/labs`)).body[0].url).toBeNull();
      expect((await w.as('student').get(`${base()}/labs`)).status).toBe(403);
      await w.db.ds.getRepository(Course).update({ id: w.course.id }, { settings: {} });
      await w.db.ds.query(`UPDATE lab_sessions SET state = 'stopped'`);
    });
  });

  it('keeps enrollments unique per user and course', async () => {
    const rows = await w.db.ds.getRepository(Enrollment).find({ where: { courseId: w.course.id } });
    expect(new Set(rows.map((r) => r.userId)).size).toBe(rows.length);
  });
});
