import { execSync } from 'node:child_process';
import request from 'supertest';
import { LabSession } from '../../api/src/modules/labs/lab-session.entity';
import {
  containersOf,
  enroll,
  LAB_IMAGE,
  makeDeviceNode,
  newCourse,
  newDeviceGpu,
  newRig,
  newTemplate,
  newUser,
  readProgress,
  tokenFor,
  until,
  labPortal,
} from '../support/labs';
import { env } from '../support/services';

describe('launches that cannot go through', () => {
  const f = labPortal({ LAUNCH_TIMEOUT_S: '12', LAUNCH_CONCURRENCY: '1' });

  it('answers 429 with Retry-After when too many labs are starting at once', async () => {
    const course = await newCourse(f.db.ds, 'CS300');
    const template = await newTemplate(f.db.ds, course, { slug: 'busy' }); // no rig yet: the first launch waits
    const [a, b] = [await newUser(f.db.ds, 'ann'), await newUser(f.db.ds, 'ben')];
    for (const u of [a, b]) await enroll(f.db.ds, u, course);
    const first = await request(f.portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${await tokenFor(f.portal, a)}`)
      .send({ templateId: template.id });
    expect(first.status).toBe(202);
    const second = await request(f.portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${await tokenFor(f.portal, b)}`)
      .send({ templateId: template.id });
    expect(second.status).toBe(429);
    expect(second.headers['retry-after']).toBe('10');
    expect(second.body).toMatchObject({
      code: 'lab.too_many_launches',
      message: expect.stringMatching(/too many labs are starting right now/),
    });
    await request(f.portal.url)
      .delete(`/api/labs/${first.body.id}`)
      .set('Authorization', `Bearer ${await tokenFor(f.portal, a)}`);
  });

  it('fails a lab whose Jupyter never answers: container removed, GPU slot freed, reason shown', async () => {
    // An image that runs but never serves Jupyter (the lab image with a different command).
    const silent = `riglab-test/silent:${f.deployment}`;
    execSync(`docker -H ${env.dockerHost} build -q -t ${silent} -`, {
      input: `FROM ${LAB_IMAGE}\nCMD ["sleep", "3600"]\n`,
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    try {
      const course = await newCourse(f.db.ds, 'CS301');
      const template = await newTemplate(f.db.ds, course, { slug: 'silent', image: silent, gpu: { required: true } });
      const rig = await newRig(f.db.ds, 'rig-a', env.dockerHost);
      await newDeviceGpu(f.db.ds, rig, 0, makeDeviceNode(`/tmp/riglab-${f.deployment}-s0`));
      const cat = await newUser(f.db.ds, 'cat');
      await enroll(f.db.ds, cat, course);
      const token = await tokenFor(f.portal, cat);
      const res = await request(f.portal.url)
        .post('/api/labs')
        .set('Authorization', `Bearer ${token}`)
        .send({ templateId: template.id });
      const events = await readProgress(f.portal, res.body.id, token);
      expect(events[events.length - 1]).toMatchObject({ failed: true, ready: false, state: 'failed' });
      const failed = await f.db.ds.getRepository(LabSession).findOneByOrFail({ id: res.body.id });
      expect(failed.stateReason).toMatch(/^Jupyter did not start in time/);
      expect(
        (await request(f.portal.url).get(`/api/labs/${res.body.id}`).set('Authorization', `Bearer ${token}`)).body
          .stateReason,
      ).toBe(failed.stateReason);
      expect(
        await until(
          () => containersOf(env.dockerHost, f.deployment),
          (c) => c.length === 0,
          15_000,
        ),
      ).toEqual([]);
      expect(await f.db.ds.query(`SELECT count(*)::int AS n FROM gpu_slots WHERE session_id IS NOT NULL`)).toEqual([
        { n: 0 },
      ]);
    } finally {
      execSync(`docker -H ${env.dockerHost} rmi -f ${silent}`, { stdio: 'ignore' });
    }
  }, 90_000);
});

describe('one student launching again and again', () => {
  const f = labPortal({ LAUNCH_RATE_PER_MINUTE: '2' });

  it('gets 429 with Retry-After and a plain reason past LAUNCH_RATE_PER_MINUTE; others launch as usual', async () => {
    const course = await newCourse(f.db.ds, 'CS301');
    const template = await newTemplate(f.db.ds, course, { slug: 'loop' }); // no rig: launches wait, nothing runs
    const [dan, eve] = [await newUser(f.db.ds, 'dan'), await newUser(f.db.ds, 'eve')];
    for (const u of [dan, eve]) await enroll(f.db.ds, u, course);
    const as = async (u: typeof dan) => `Bearer ${await tokenFor(f.portal, u)}`;
    const launch = async (u: typeof dan) =>
      request(f.portal.url)
        .post('/api/labs')
        .set('Authorization', await as(u))
        .send({ templateId: template.id });
    for (let i = 0; i < 2; i++) {
      const res = await launch(dan);
      expect(res.status).toBe(202);
      // Asking again while the lab lives returns it and is not counted.
      expect((await launch(dan)).status).toBe(200);
      await request(f.portal.url)
        .delete(`/api/labs/${res.body.id}`)
        .set('Authorization', await as(dan));
      await until(
        () => f.db.ds.getRepository(LabSession).findOneByOrFail({ id: res.body.id }),
        (s) => ['stopped', 'failed'].includes(s.state),
      );
    }
    const third = await launch(dan);
    expect(third.status).toBe(429);
    expect(Number(third.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(third.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(third.body).toMatchObject({
      code: 'lab.launch_rate_limited',
      message: expect.stringMatching(/^you have started 2 labs in the last minute; try again in \d+ s$/),
    });
    expect(await f.db.ds.getRepository(LabSession).countBy({ userId: dan.id })).toBe(2);
    expect((await launch(eve)).status).toBe(202);
  });
});
