import Docker from 'dockerode';
import request from 'supertest';
import WebSocket from 'ws';
import { LabSession } from '../../api/src/modules/labs/lab-session.entity';
import { labToken } from '../../api/src/modules/labs/lab-token';
import { migratedDatabase, startPortal, testConfig, TestPortal } from '../support/app';
import {
  cleanEngine,
  containersOf,
  contents,
  copyImage,
  enroll,
  jupyterThroughPortal,
  LAB_IMAGE,
  newCourse,
  newRig,
  newTemplate,
  newUser,
  randomDeployment,
  readProgress,
  runCode,
  tokenFor,
  until,
} from '../support/labs';
import { env, OwnEngine } from '../support/services';
import type { User } from '../../api/src/modules/users/user.entity';
import type { LabTemplate } from '../../api/src/modules/templates/lab-template.entity';

describe('launching a lab on a two-rig pool', () => {
  const rig2 = new OwnEngine('labs-rig2', 'riglab7', '172.31.247.1/24');
  const deployment = randomDeployment();
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let portal: TestPortal;
  let alice: User;
  let bob: User;
  let template: LabTemplate;
  let aliceToken: string;
  let bobToken: string;

  beforeAll(async () => {
    rig2.start();
    copyImage(LAB_IMAGE, rig2.endpoint);
    db = await migratedDatabase();
    portal = await startPortal(
      testConfig({
        DATABASE_URL: db.url,
        DEPLOYMENT_ID: deployment,
        LAUNCH_TIMEOUT_S: '90',
        RECONCILE_INTERVAL_S: '3600',
        CULL_INTERVAL_S: '3600',
      }),
    );
    const course = await newCourse(db.ds);
    alice = await newUser(db.ds, 'alice');
    bob = await newUser(db.ds, 'bob');
    await enroll(db.ds, alice, course);
    await enroll(db.ds, bob, course);
    template = await newTemplate(db.ds, course);
    await newRig(db.ds, 'rig-a', env.dockerHost);
    await newRig(db.ds, 'rig-b', rig2.endpoint);
    aliceToken = await tokenFor(portal, alice);
    bobToken = await tokenFor(portal, bob);
  }, 180_000);

  afterAll(async () => {
    await portal?.close();
    await cleanEngine(env.dockerHost, deployment);
    await cleanEngine(rig2.endpoint, deployment).catch(() => undefined);
    rig2.stop();
    await db?.drop();
  });

  async function launch(token: string) {
    const res = await request(portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${token}`)
      .send({ templateId: template.id });
    return res;
  }

  it('launches with progress a person can follow, and runs code through the proxy', async () => {
    const res = await launch(aliceToken);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ state: 'queued', template: { slug: 'python-basics' }, url: null });
    const events = await readProgress(portal, res.body.id, aliceToken);
    const last = events[events.length - 1];
    expect(last).toMatchObject({ ready: true, failed: false, state: 'ready', url: '/user/alice/python-basics/' });
    const messages = events.map((e) => e.message).join('\n');
    expect(messages).toMatch(/Queued/);
    expect(messages).toMatch(/Placed on rig rig-[ab]/);
    expect(messages).toMatch(/Waiting for Jupyter/);
    expect(events.map((e) => e.progress)).toEqual([...events.map((e) => e.progress)].sort((a, b) => a - b));

    // A reconnecting EventSource (Last-Event-ID) gets only what it has not seen.
    const resumed = await readProgress(portal, res.body.id, aliceToken, events[events.length - 2].eventId);
    expect(resumed).toEqual([expect.objectContaining({ ready: true, url: '/user/alice/python-basics/' })]);

    const out = await runCode(jupyterThroughPortal(portal, 'alice', 'python-basics', aliceToken), 'print(6*7)');
    expect(out.trim()).toBe('42');
  });

  it('returns the running lab on a second Launch instead of starting another', async () => {
    const again = await launch(aliceToken);
    expect(again.status).toBe(200);
    expect(again.body.state).toBe('ready');
    expect(
      (await containersOf(env.dockerHost, deployment)).length + (await containersOf(rig2.endpoint, deployment)).length,
    ).toBe(1);
  });

  it("gives another student 403 on the lab's URLs, over HTTP and WebSocket, and never shows the Jupyter token", async () => {
    const url = '/user/alice/python-basics/api/contents';
    expect((await request(portal.url).get(url).set('Authorization', `Bearer ${aliceToken}`)).status).toBe(200);
    const asBob = await request(portal.url).get(url).set('Authorization', `Bearer ${bobToken}`);
    expect([asBob.status, asBob.body.message]).toEqual([403, 'This lab belongs to someone else.']);
    expect((await request(portal.url).get(url)).status).toBe(401);

    const wsStatus = (token: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(
          `${portal.url.replace('http', 'ws')}/user/alice/python-basics/api/events/subscribe?token=${token}`,
        );
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('error', () => resolve(-1));
      });
    expect(await wsStatus(bobToken)).toBe(403);
    expect(await wsStatus('rgl_forged')).toBe(401);

    const anonymous = await request(portal.url).get('/user/alice/python-basics/tree').set('Accept', 'text/html');
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers.location).toBe('/?next=%2Fuser%2Falice%2Fpython-basics%2Ftree');

    const session = await db.ds.getRepository(LabSession).findOneByOrFail({ userId: alice.id, state: 'ready' });
    const seen = [
      JSON.stringify((await request(portal.url).get('/api/labs').set('Authorization', `Bearer ${aliceToken}`)).body),
      JSON.stringify(
        (await request(portal.url).get(`/api/labs/${session.id}`).set('Authorization', `Bearer ${aliceToken}`)).body,
      ),
      JSON.stringify(await readProgress(portal, session.id, aliceToken)),
      (await request(portal.url).get('/user/alice/python-basics/tree').set('Authorization', `Bearer ${aliceToken}`))
        .text,
    ].join('\n');
    // The token is derived from the portal's key and the lab's id: the container has it, the database not.
    const token = labToken(portal.config.labTokenKey, session.id);
    expect(seen).not.toContain(token);
    expect(session.jupyterToken).toBeNull();
    expect(JSON.stringify(await db.ds.query(`SELECT * FROM lab_sessions WHERE id = $1`, [session.id]))).not.toContain(
      token,
    );
    const [info] = [
      ...(await containersOf(env.dockerHost, deployment)),
      ...(await containersOf(rig2.endpoint, deployment)),
    ];
    const engines = [env.dockerHost, rig2.endpoint].map((u) => new Docker({ socketPath: u.replace('unix://', '') }));
    const inspected = await Promise.any(engines.map((d) => d.getContainer(info.Id).inspect()));
    expect(inspected.Config.Env).toContain(`JUPYTER_TOKEN=${token}`);

    // And Bob cannot even learn that Alice's lab exists.
    expect(
      (await request(portal.url).get(`/api/labs/${session.id}`).set('Authorization', `Bearer ${bobToken}`)).status,
    ).toBe(404);
  });

  it("keeps the student's files across stop and relaunch, and copies starter files once", async () => {
    const settings = jupyterThroughPortal(portal, 'alice', 'python-basics', aliceToken);
    const files = contents(settings);
    expect((await files.get('')).content.map((f: { name: string }) => f.name)).toContain('welcome.ipynb');
    await files.save('notes.txt', { type: 'file', format: 'text', content: 'my work' });
    await files.save('welcome.ipynb', { type: 'file', format: 'text', content: 'edited by alice' });

    const session = await db.ds.getRepository(LabSession).findOneByOrFail({ userId: alice.id, state: 'ready' });
    const stop = await request(portal.url)
      .delete(`/api/labs/${session.id}`)
      .set('Authorization', `Bearer ${aliceToken}`);
    expect(stop.status).toBe(202);
    const again = await request(portal.url)
      .delete(`/api/labs/${session.id}`)
      .set('Authorization', `Bearer ${aliceToken}`);
    expect(again.status).toBe(202); // stopping twice is harmless
    const stopped = await until(
      () => db.ds.getRepository(LabSession).findOneByOrFail({ id: session.id }),
      (s) => s.state === 'stopped',
    );
    expect(stopped.state).toBe('stopped');
    expect(
      (await containersOf(env.dockerHost, deployment)).length + (await containersOf(rig2.endpoint, deployment)).length,
    ).toBe(0);
    expect(
      (
        await request(portal.url)
          .get('/user/alice/python-basics/api/contents')
          .set('Authorization', `Bearer ${aliceToken}`)
      ).status,
    ).toBe(404);

    const relaunch = await launch(aliceToken);
    expect(relaunch.status).toBe(202);
    const events = await readProgress(portal, relaunch.body.id, aliceToken);
    expect(events[events.length - 1]).toMatchObject({ ready: true });
    const after = contents(jupyterThroughPortal(portal, 'alice', 'python-basics', aliceToken));
    expect((await after.get('notes.txt', { content: true, format: 'text' })).content).toBe('my work');
    expect((await after.get('welcome.ipynb', { type: 'file', content: true, format: 'text' })).content).toBe(
      'edited by alice',
    );
    files.dispose();
    after.dispose();
  });

  it("places a second student, and prefers the rig holding a student's home", async () => {
    const res = await launch(bobToken);
    const events = await readProgress(portal, res.body.id, bobToken);
    expect(events[events.length - 1]).toMatchObject({ ready: true, url: '/user/bob/python-basics/' });
    const sessions = await db.ds
      .getRepository(LabSession)
      .find({ where: { userId: alice.id }, order: { createdAt: 'ASC' } });
    expect(sessions[1].rigId).toBe(sessions[0].rigId); // relaunch landed where the home volume is
    expect(
      (
        await runCode(jupyterThroughPortal(portal, 'bob', 'python-basics', bobToken), 'import os; print(os.getuid())')
      ).trim(),
    ).toBe('1000');
  });

  it('answers bad launches with a clear reason', async () => {
    const bad = await request(portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${aliceToken}`)
      .send({ templateId: 'nope' });
    expect([bad.status, bad.body.message]).toEqual([400, 'templateId must be a template id (a UUID)']);
    const missing = await request(portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${aliceToken}`)
      .send({ templateId: '00000000-0000-4000-8000-000000000000' });
    expect([missing.status, missing.body.message]).toEqual([404, 'no published lab template with that id']);
    const carol = await newUser(db.ds, 'carol');
    const outsider = await request(portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${await tokenFor(portal, carol)}`)
      .send({ templateId: template.id });
    expect([outsider.status, outsider.body.message]).toEqual([403, 'you are not enrolled in CS101']);
  });

  it('reports launches in Prometheus metrics', async () => {
    const text = (await request(portal.url).get('/metrics')).text;
    expect(text).toMatch(/^riglab_server_spawn_duration_seconds_count\{status="success"\} [3-9]/m);
    expect(text).toMatch(/^riglab_server_spawn_duration_seconds_bucket\{le="600",status="success"\}/m);
    expect(text).toMatch(/^riglab_running_servers 2$/m);
  });
});
