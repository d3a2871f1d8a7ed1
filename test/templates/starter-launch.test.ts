import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { LabSession } from '../../api/src/modules/labs/lab-session.entity';
import type { User } from '../../api/src/modules/users/user.entity';
import {
  contents,
  enroll,
  jupyterThroughPortal,
  LAB_IMAGE,
  labPortal,
  newCourse,
  newRig,
  newUser,
  readProgress,
  runCode,
  tokenFor,
} from '../support/labs';
import { env } from '../support/services';
import { tarOf } from './archives';

describe('a lab launched from an uploaded starter archive', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'riglab-starter-'));
  const f = labPortal({ RIGLAB_STATE_DIR: stateDir, LAUNCH_TIMEOUT_S: '90' });
  let student: User;
  let studentToken: string;
  let teacherToken: string;
  let base: string;
  let templateId: string;

  beforeAll(async () => {
    const course = await newCourse(f.db.ds);
    student = await newUser(f.db.ds, 'stu');
    const teacher = await newUser(f.db.ds, 'tea', 'staff');
    await enroll(f.db.ds, student, course, 'student');
    await enroll(f.db.ds, teacher, course, 'instructor');
    await newRig(f.db.ds, 'local', env.dockerHost);
    studentToken = await tokenFor(f.portal, student);
    teacherToken = await tokenFor(f.portal, teacher, ['read', 'labs', 'courses:admin']);
    base = `/api/courses/${course.id}/templates`;
    const created = await request(f.portal.url)
      .post(base)
      .set('Authorization', `Bearer ${teacherToken}`)
      .send({
        slug: 'uploaded',
        title: 'Uploaded',
        image: LAB_IMAGE,
        cpus: 0.5,
        memoryMb: 512,
        env: { COURSE_NAME: 'CS101' },
      });
    expect(created.status).toBe(201);
    templateId = created.body.id;
  });
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

  const asTeacher = (t: request.Test) => t.set('Authorization', `Bearer ${teacherToken}`);

  it('puts the archive files in the student home, and keeps the running lab on its version', async () => {
    const tar = await tarOf([
      { name: 'lesson/hello.py', content: 'print("hello from the archive")\n' },
      { name: 'lesson/data.csv', content: 'x,y\n1,2\n' },
      { name: 'start-here', type: 'symlink', target: 'lesson/hello.py' },
    ]);
    const up = await asTeacher(request(f.portal.url).put(`${base}/${templateId}/starter`))
      .set('Content-Type', 'application/x-tar')
      .send(tar);
    expect(up.status).toBe(200);
    expect(up.body.latestVersion).toBe(2);
    expect((await asTeacher(request(f.portal.url).post(`${base}/${templateId}/publish`)).send({})).body).toMatchObject({
      published: true,
      currentVersion: 2,
    });

    const launched = await request(f.portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${studentToken}`)
      .send({ templateId });
    expect(launched.status).toBe(202);
    const events = await readProgress(f.portal, launched.body.id, studentToken);
    expect(events[events.length - 1]).toMatchObject({ ready: true, state: 'ready' });
    expect(events.map((e) => e.message).join('\n')).toMatch(/Copying the starter files/);

    const jupyter = jupyterThroughPortal(f.portal, 'stu', 'uploaded', studentToken);
    const home = await contents(jupyter).get('lesson');
    expect((home.content as Array<{ name: string }>).map((c) => c.name).sort()).toEqual(['data.csv', 'hello.py']);
    expect((await runCode(jupyter, 'exec(open("start-here").read())')).trim()).toBe('hello from the archive');
    expect((await runCode(jupyter, 'import os; print(os.environ.get("COURSE_NAME"))')).trim()).toBe('CS101');

    // extracted once into the content-addressed cache, nothing half-written left beside it
    const cache = join(stateDir, 'starter-cache');
    const sha = up.body.versions[0].starterArchive.sha256 as string;
    expect(readdirSync(cache)).toEqual([sha]);
    expect(existsSync(join(cache, sha, 'lesson', 'hello.py'))).toBe(true);

    // an edit published while the lab runs: the lab stays on version 2, new launches get 3
    const session = await f.db.ds
      .getRepository(LabSession)
      .findOneOrFail({ where: { id: launched.body.id }, relations: { templateVersion: true } });
    expect(session.templateVersion!.version).toBe(2);
    await asTeacher(request(f.portal.url).patch(`${base}/${templateId}`)).send({ memoryMb: 640 });
    await asTeacher(request(f.portal.url).post(`${base}/${templateId}/publish`)).send({});
    const after = await f.db.ds
      .getRepository(LabSession)
      .findOneOrFail({ where: { id: launched.body.id }, relations: { templateVersion: true } });
    expect(after).toMatchObject({ state: 'ready', templateVersionId: session.templateVersionId });
    expect(after.templateVersion!).toMatchObject({ version: 2, memoryMb: 512 });
    const again = await request(f.portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${studentToken}`)
      .send({ templateId });
    // the student's running lab is returned as it is, not restarted on the new version
    expect([again.status, again.body.id]).toEqual([200, launched.body.id]);
  }, 150_000);
});
