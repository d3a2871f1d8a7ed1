import { createServer, Server } from 'node:http';
import request from 'supertest';
import { Course } from '../../api/src/modules/courses/course.entity';
import { enroll, newTemplate, newUser } from '../support/labs';
import { TokensService } from '../../api/src/modules/auth/tokens.service';
import { LabSessionsRepository } from '../../api/src/modules/labs/lab-sessions.repository';
import { auditActions, courseWorld } from './support';

/**
 * The notebook proxy and a course's instructors. The "lab" here is a small HTTP server standing in
 * for Jupyter (no Docker): what is under test is who the proxy lets through.
 */
describe('instructor access to a student’s notebook', () => {
  const w = courseWorld();
  let jupyter: Server;
  let sessionId: string;
  const lab = '/user/sam/nb/api/status';

  beforeAll(async () => {
    jupyter = createServer((req, res) => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ path: req.url, auth: req.headers.authorization ?? null }));
    });
    await new Promise<void>((r) => jupyter.listen(0, '127.0.0.1', r));
    const port = (jupyter.address() as { port: number }).port;
    const template = await newTemplate(w.db.ds, w.course, { slug: 'nb', image: 'x' });
    const [version] = await w.db.ds.query(`SELECT id FROM lab_template_versions WHERE template_id = $1`, [template.id]);
    const [row] = await w.db.ds.query(
      `INSERT INTO lab_sessions (user_id, course_id, template_version_id, name, state, endpoint, jupyter_token, ready_at)
       VALUES ($1, $2, $3, 'nb', 'ready', $4, 'jupyter-secret', now()) RETURNING id`,
      [w.users.student.id, w.course.id, version.id, `http://127.0.0.1:${port}`],
    );
    sessionId = row.id;
  });
  afterAll(() => new Promise<void>((r) => jupyter.close(() => r())));

  const open = (token: string) => request(w.portal.url).get(lab).set('Authorization', `Bearer ${token}`);

  it('lets the owner in, with the lab’s own token injected', async () => {
    const res = await open(w.tokens.student);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ path: '/user/sam/nb/api/status', auth: 'token jupyter-secret' });
  });

  it('keeps instructors out while the course does not allow it', async () => {
    const res = await open(w.tokens.instructor);
    expect([res.status, res.body.message]).toEqual([
      403,
      "This course does not let instructors open students' notebooks.",
    ]);
  });

  it('lets an instructor in when the course allows it, auditing once per visit, not per request', async () => {
    // A second instructor: the first one's answer above is cached for a few seconds, as designed.
    const ivan = await newUser(w.db.ds, 'ivan', 'staff');
    await enroll(w.db.ds, ivan, w.course, 'instructor');
    const token = (await w.portal.app.get(TokensService).create(ivan, { scopes: ['read', 'labs'] })).token;
    await w.db.ds.getRepository(Course).update({ id: w.course.id }, { settings: { instructorNotebookAccess: true } });
    for (let i = 0; i < 5; i++) expect((await open(token)).status).toBe(200);
    const events = await auditActions(w, 'lab.instructor_access');
    expect(events).toEqual([
      {
        action: 'lab.instructor_access',
        actor: 'ivan',
        detail: { owner: 'sam', lab: 'nb', courseId: w.course.id },
      },
    ]);
    const [row] = await w.db.ds.query(`SELECT target_id FROM audit_events WHERE action = 'lab.instructor_access'`);
    expect(row.target_id).toBe(sessionId);
  });

  it('still keeps TAs, other students, staff outside the course and signed-out callers out', async () => {
    for (const who of ['ta', 'other', 'staff'] as const) {
      const res = await open(w.tokens[who]);
      expect([who, res.status, res.body.message]).toEqual([who, 403, 'This lab belongs to someone else.']);
    }
    expect((await request(w.portal.url).get(lab)).status).toBe(401);
    expect((await open(w.tokens.admin)).status).toBe(200);
  });

  it('does not tell a non-owner whether a lab that is not running exists', async () => {
    const res = await request(w.portal.url).get('/user/sam/nope/').set('Authorization', `Bearer ${w.tokens.other}`);
    expect(res.status).toBe(403);
    const own = await request(w.portal.url).get('/user/sam/nope/').set('Authorization', `Bearer ${w.tokens.student}`);
    expect(own.status).toBe(404);
  });

  it('forgets the stored token of a lab from before derived tokens once it ends', async () => {
    const sessions = w.portal.app.get(LabSessionsRepository);
    const token = async () =>
      (await w.db.ds.query(`SELECT jupyter_token FROM lab_sessions WHERE id = $1`, [sessionId]))[0].jupyter_token;
    await sessions.transition(sessionId, 'stopping', 'stopped by its owner');
    expect(await token()).toBe('jupyter-secret'); // still needed while the container is being stopped
    await sessions.transition(sessionId, 'stopped', 'container removed');
    expect(await token()).toBeNull();
  });
});
