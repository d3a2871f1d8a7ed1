import request from 'supertest';
import { LabSession } from '../../api/src/modules/labs/lab-session.entity';
import { LedgerService } from '../../api/src/modules/ledger/ledger.service';
import { CourseQuota } from '../../api/src/modules/quota/course-quota.entity';
import { weekOf } from '../../api/src/modules/quota/quota.policy';
import { enroll, labPortal, newCourse, newTemplate, newUser, tokenFor, until } from '../support/labs';

// Admission against real Postgres: budgets derived from the ledger, reserved under advisory locks.

describe('GPU admission', () => {
  // Launches that are admitted wait for a GPU (there is none): no container is started here.
  const f = labPortal({ LAUNCH_CONCURRENCY: '100', QUOTA_METER_INTERVAL_S: '300', GPU_QUEUE_INTERVAL_S: '300' });

  it('admits exactly one of 10 concurrent GPU launches when the budget covers one', async () => {
    const course = await newCourse(f.db.ds, 'ML200');
    // 30 GPU-minutes a week, slices of 30 minutes: one GPU lab takes the whole budget.
    await f.db.ds.getRepository(CourseQuota).save({
      courseId: course.id,
      ceiling: { gpuMinutesPerWeek: 30, sliceMinutes: 30, maxConcurrentLabs: 20 },
    });
    const templates = [];
    for (let i = 0; i < 10; i++)
      templates.push(await newTemplate(f.db.ds, course, { slug: `gpu-lab-${i}`, gpu: { required: true } }));
    const cpuTemplate = await newTemplate(f.db.ds, course, { slug: 'cpu-lab' });
    const student = await newUser(f.db.ds, 'greedy');
    await enroll(f.db.ds, student, course);
    const token = await tokenFor(f.portal, student);

    const answers = await Promise.all(
      templates.map((t) =>
        request(f.portal.url).post('/api/labs').set('Authorization', `Bearer ${token}`).send({ templateId: t.id }),
      ),
    );
    const admitted = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status === 429);
    expect(admitted).toHaveLength(1);
    expect(refused).toHaveLength(9);
    for (const r of refused) {
      expect(r.body.code).toBe('quota_gpu_budget_committed');
      expect(r.body.message).toMatch(/held by your other GPU lab/);
      expect(new Date(r.body.refillsAt).getTime()).toBe(weekOf(new Date()).end.getTime());
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    }
    const rows = await f.db.ds.getRepository(LabSession).find({ where: { userId: student.id } });
    expect(rows).toHaveLength(1);
    expect(Number(rows[0].gpuReservedMinutes)).toBe(30);
    // The week's allowance was written to the ledger once, whatever the concurrency.
    const refills = await f.db.ds.query(
      `SELECT gpu_minutes::float8 AS gpu FROM ledger_entries WHERE user_id = $1 AND kind = 'refill'`,
      [student.id],
    );
    expect(refills).toEqual([{ gpu: 30 }]);

    // A CPU lab of the same course is not held back by the GPU budget.
    const cpu = await request(f.portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${token}`)
      .send({ templateId: cpuTemplate.id });
    expect(cpu.status).toBe(202);

    // The student sees the reservation against this week's minutes.
    const usage = await request(f.portal.url).get('/api/me/usage').set('Authorization', `Bearer ${token}`);
    expect(usage.status).toBe(200);
    const mine = usage.body.courses.find((c: { course: { code: string } }) => c.course.code === 'ML200');
    expect(mine.gpuMinutes).toEqual({ limit: 30, used: 0, left: 30 });
    expect(mine.committedGpuMinutes).toBe(30);
    expect(mine.liveLabs).toBe(2);

    // Leaving frees the reservation: the next GPU launch is admitted.
    await request(f.portal.url).delete(`/api/labs/${admitted[0].body.id}`).set('Authorization', `Bearer ${token}`);
    await until(
      () => f.db.ds.getRepository(LabSession).findOneByOrFail({ id: admitted[0].body.id }),
      (s) => s.state === 'stopped',
    );
    const again = await request(f.portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${token}`)
      .send({ templateId: templates[3].id });
    expect(again.status).toBe(202);
  });

  it('refuses a GPU launch once the week is spent, saying when it refills; a correction entry gives time back', async () => {
    const course = await newCourse(f.db.ds, 'ML300');
    await f.db.ds.getRepository(CourseQuota).save({ courseId: course.id, ceiling: { gpuMinutesPerWeek: 20 } });
    const template = await newTemplate(f.db.ds, course, { slug: 'gpu-lab', gpu: { required: true } });
    const student = await newUser(f.db.ds, 'spent');
    await enroll(f.db.ds, student, course);
    const token = await tokenFor(f.portal, student);
    const ledger = f.portal.app.get(LedgerService);
    // This week's allowance, then 20 minutes of use, as metering writes them.
    await ledger.append([
      {
        kind: 'refill',
        userId: student.id,
        courseId: course.id,
        gpuMinutes: 20,
        actor: 'system',
        reason: 'weekly allowance',
      },
      {
        kind: 'debit',
        userId: student.id,
        courseId: course.id,
        gpuMinutes: -20,
        actor: 'system',
        reason: '20 min of lab gpu-lab',
      },
    ]);
    const refused = await request(f.portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${token}`)
      .send({ templateId: template.id });
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe('quota_gpu_budget');
    expect(refused.body.message).toMatch(
      /your 20 GPU-minutes for this week are used up .*refill on \d{4}-\d\d-\d\d 00:00 UTC/,
    );
    expect(await f.db.ds.getRepository(LabSession).count({ where: { userId: student.id } })).toBe(0);

    await ledger.append([
      {
        kind: 'adjustment',
        userId: student.id,
        courseId: course.id,
        gpuMinutes: 10,
        actor: 'user:admin',
        reason: 'lab outage on Tuesday',
      },
    ]);
    const admitted = await request(f.portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${token}`)
      .send({ templateId: template.id });
    expect(admitted.status).toBe(202);
    const usage = await request(f.portal.url).get('/api/me/usage').set('Authorization', `Bearer ${token}`);
    const mine = usage.body.courses.find((c: { course: { code: string } }) => c.course.code === 'ML300');
    expect(mine.gpuMinutes).toEqual({ limit: 20, used: 20, left: 10 });
  });

  it('counts live labs against the course limit', async () => {
    const course = await newCourse(f.db.ds, 'CS150');
    await f.db.ds.getRepository(CourseQuota).save({ courseId: course.id, ceiling: { maxConcurrentLabs: 1 } });
    // GPU labs on a pool without GPUs: the first waits in the GPU queue (live) while the second asks.
    const a = await newTemplate(f.db.ds, course, { slug: 'lab-a', gpu: { required: true } });
    const b = await newTemplate(f.db.ds, course, { slug: 'lab-b', gpu: { required: true } });
    const student = await newUser(f.db.ds, 'busy');
    await enroll(f.db.ds, student, course);
    const token = await tokenFor(f.portal, student);
    const first = await request(f.portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${token}`)
      .send({ templateId: a.id });
    expect(first.status).toBe(202);
    const second = await request(f.portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${token}`)
      .send({ templateId: b.id });
    expect(second.status).toBe(429);
    expect(second.body).toMatchObject({ code: 'quota_too_many_labs' });
    expect(second.body.message).toMatch(/already have 1 lab running in this course \(the limit is 1\); stop one first/);
    expect(second.headers['retry-after']).toBeUndefined();
  });
});

describe('course quotas', () => {
  const f = labPortal({ QUOTA_METER_INTERVAL_S: '300', GPU_QUEUE_INTERVAL_S: '300' });

  it('campus IT sets the ceiling, instructors tighten within it, students see the result', async () => {
    const course = await newCourse(f.db.ds, 'DS100');
    const admin = await newUser(f.db.ds, 'it-admin', 'admin');
    const teacher = await newUser(f.db.ds, 'teacher', 'staff');
    const student = await newUser(f.db.ds, 'learner');
    await enroll(f.db.ds, teacher, course, 'instructor');
    await enroll(f.db.ds, student, course);
    const at = await tokenFor(f.portal, admin, ['admin']);
    const tt = await tokenFor(f.portal, teacher, ['read', 'labs', 'courses:admin']);
    const st = await tokenFor(f.portal, student);
    const put = (token: string, body: object) =>
      request(f.portal.url).put(`/api/courses/${course.id}/quota`).set('Authorization', `Bearer ${token}`).send(body);

    const set = await put(at, { ceiling: { gpuMinutesPerWeek: 240, sliceMinutes: 60, gpuRates: { 'RTX 3060': 2 } } });
    expect(set.status).toBe(200);
    expect(set.body.effective).toMatchObject({ gpuMinutesPerWeek: 240, sliceMinutes: 60, gpuRates: { 'RTX 3060': 2 } });

    const tighter = await put(tt, { tightening: { gpuMinutesPerWeek: 90 } });
    expect(tighter.status).toBe(200);
    expect(tighter.body.effective.gpuMinutesPerWeek).toBe(90);
    expect(tighter.body.ceiling.gpuMinutesPerWeek).toBe(240);

    const looser = await put(tt, { tightening: { gpuMinutesPerWeek: 500 } });
    expect(looser.status).toBe(400);
    expect(looser.body.message).toMatch(/may only be tightened: campus IT allows at most 240 GPU-minutes/);
    const ceilingByInstructor = await put(tt, { ceiling: { gpuMinutesPerWeek: 1000 } });
    expect(ceilingByInstructor.status).toBe(403);
    const bad = await put(at, { ceiling: { sliceMinutes: 'long' } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/sliceMinutes must be a number/);
    expect((await put(st, { tightening: { gpuMinutesPerWeek: 1 } })).status).toBe(403);

    // Nothing of the refused changes stuck.
    const view = await request(f.portal.url)
      .get(`/api/courses/${course.id}/quota`)
      .set('Authorization', `Bearer ${tt}`);
    expect(view.body.effective).toMatchObject({ gpuMinutesPerWeek: 90, sliceMinutes: 60 });
    const usage = await request(f.portal.url).get('/api/me/usage').set('Authorization', `Bearer ${st}`);
    expect(usage.body.courses[0].gpuMinutes).toEqual({ limit: 90, used: 0, left: 90 });
    const audit = await f.db.ds.query(
      `SELECT actor FROM audit_events WHERE action = 'course.quota.update' ORDER BY id`,
    );
    expect(audit.map((a: { actor: string }) => a.actor)).toEqual(['it-admin', 'teacher']);

    // Instructors and campus IT see consumption.
    const cu = await request(f.portal.url).get(`/api/courses/${course.id}/usage`).set('Authorization', `Bearer ${tt}`);
    expect(cu.status).toBe(200);
    expect(cu.body.students.map((s: { username: string }) => s.username)).toEqual(['learner']);
    expect(cu.body.daily.days).toHaveLength(28);
    const all = await request(f.portal.url).get('/api/usage/courses').set('Authorization', `Bearer ${at}`);
    expect(all.status).toBe(200);
    expect(all.body.courses.find((c: { course: { code: string } }) => c.course.code === 'DS100')).toMatchObject({
      students: 1,
      gpuMinutesThisWeek: 0,
    });
    expect((await request(f.portal.url).get('/api/usage/courses').set('Authorization', `Bearer ${tt}`)).status).toBe(
      403,
    );
  });
});
