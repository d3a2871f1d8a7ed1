import { execSync } from 'node:child_process';
import request from 'supertest';
import { LabSession } from '../../api/src/modules/labs/lab-session.entity';
import { migratedDatabase, startPortal, testConfig, TestPortal } from '../support/app';
import {
  cleanEngine,
  containersOf,
  enroll,
  LAB_IMAGE,
  makeDeviceNode,
  newCourse,
  newDeviceGpu,
  newRig,
  newTemplate,
  newUser,
  randomDeployment,
  readProgress,
  tokenFor,
  until,
} from '../support/labs';
import { env } from '../support/services';

describe('launches that cannot go through', () => {
  const deployment = randomDeployment();
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let portal: TestPortal;

  beforeAll(async () => {
    db = await migratedDatabase();
    portal = await startPortal(
      testConfig({
        DATABASE_URL: db.url,
        DEPLOYMENT_ID: deployment,
        LAUNCH_TIMEOUT_S: '12',
        LAUNCH_CONCURRENCY: '1',
        RECONCILE_INTERVAL_S: '3600',
      }),
    );
  });
  afterAll(async () => {
    await portal?.close();
    await cleanEngine(env.dockerHost, deployment);
    await db?.drop();
  });

  it('answers 429 with Retry-After when too many labs are starting at once', async () => {
    const course = await newCourse(db.ds, 'CS300');
    const template = await newTemplate(db.ds, course, { slug: 'busy' }); // no rig yet: the first launch waits
    const [a, b] = [await newUser(db.ds, 'ann'), await newUser(db.ds, 'ben')];
    for (const u of [a, b]) await enroll(db.ds, u, course);
    const first = await request(portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${await tokenFor(portal, a)}`)
      .send({ templateId: template.id });
    expect(first.status).toBe(202);
    const second = await request(portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${await tokenFor(portal, b)}`)
      .send({ templateId: template.id });
    expect(second.status).toBe(429);
    expect(second.headers['retry-after']).toBe('10');
    expect(second.body).toMatchObject({
      code: 'lab.too_many_launches',
      message: expect.stringMatching(/too many labs are starting right now/),
    });
    await request(portal.url)
      .delete(`/api/labs/${first.body.id}`)
      .set('Authorization', `Bearer ${await tokenFor(portal, a)}`);
  });

  it('fails a lab whose Jupyter never answers: container removed, GPU slot freed, reason shown', async () => {
    // An image that runs but never serves Jupyter (the lab image with a different command).
    const silent = `riglab-test/silent:${deployment}`;
    execSync(`docker -H ${env.dockerHost} build -q -t ${silent} -`, {
      input: `FROM ${LAB_IMAGE}\nCMD ["sleep", "3600"]\n`,
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    try {
      const course = await newCourse(db.ds, 'CS301');
      const template = await newTemplate(db.ds, course, { slug: 'silent', image: silent, gpu: { required: true } });
      const rig = await newRig(db.ds, 'rig-a', env.dockerHost);
      await newDeviceGpu(db.ds, rig, 0, makeDeviceNode(`/tmp/riglab-${deployment}-s0`));
      const cat = await newUser(db.ds, 'cat');
      await enroll(db.ds, cat, course);
      const token = await tokenFor(portal, cat);
      const res = await request(portal.url)
        .post('/api/labs')
        .set('Authorization', `Bearer ${token}`)
        .send({ templateId: template.id });
      const events = await readProgress(portal, res.body.id, token);
      expect(events[events.length - 1]).toMatchObject({ failed: true, ready: false, state: 'failed' });
      const failed = await db.ds.getRepository(LabSession).findOneByOrFail({ id: res.body.id });
      expect(failed.stateReason).toMatch(/^Jupyter did not start in time/);
      expect(
        (await request(portal.url).get(`/api/labs/${res.body.id}`).set('Authorization', `Bearer ${token}`)).body
          .stateReason,
      ).toBe(failed.stateReason);
      expect(
        await until(
          () => containersOf(env.dockerHost, deployment),
          (c) => c.length === 0,
          15_000,
        ),
      ).toEqual([]);
      expect(await db.ds.query(`SELECT count(*)::int AS n FROM gpu_slots WHERE session_id IS NOT NULL`)).toEqual([
        { n: 0 },
      ]);
    } finally {
      execSync(`docker -H ${env.dockerHost} rmi -f ${silent}`, { stdio: 'ignore' });
    }
  }, 90_000);
});
