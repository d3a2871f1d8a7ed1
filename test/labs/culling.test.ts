import { KernelManager } from '@jupyterlab/services';
import request from 'supertest';
import { CullerService } from '../../api/src/modules/labs/culler.service';
import { LabSession } from '../../api/src/modules/labs/lab-session.entity';
import { migratedDatabase, startPortal, testConfig, TestPortal } from '../support/app';
import {
  cleanEngine,
  enroll,
  jupyterThroughPortal,
  newCourse,
  newRig,
  newTemplate,
  newUser,
  randomDeployment,
  readProgress,
  tokenFor,
  until,
} from '../support/labs';
import { env } from '../support/services';

describe('idle culling', () => {
  const deployment = randomDeployment();
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let portal: TestPortal;

  beforeAll(async () => {
    db = await migratedDatabase();
    portal = await startPortal(
      testConfig({
        DATABASE_URL: db.url,
        DEPLOYMENT_ID: deployment,
        CULL_WARN_S: '2',
        CULL_INTERVAL_S: '3600',
        RECONCILE_INTERVAL_S: '3600',
      }),
    );
  });
  afterAll(async () => {
    await portal?.close();
    await cleanEngine(env.dockerHost, deployment);
    await db?.drop();
  });

  it('spares a busy kernel, warns an idle lab first and then stops it', async () => {
    const course = await newCourse(db.ds);
    const template = await newTemplate(db.ds, course, { slug: 'short', idleTimeoutS: 4 });
    await newRig(db.ds, 'rig-a', env.dockerHost);
    const [busy, idle] = [await newUser(db.ds, 'trainer'), await newUser(db.ds, 'sleeper')];
    for (const u of [busy, idle]) await enroll(db.ds, u, course);
    const tokens = [await tokenFor(portal, busy), await tokenFor(portal, idle)];
    const labs: string[] = [];
    for (const t of tokens) {
      const res = await request(portal.url)
        .post('/api/labs')
        .set('Authorization', `Bearer ${t}`)
        .send({ templateId: template.id });
      expect((await readProgress(portal, res.body.id, t)).pop()).toMatchObject({ ready: true });
      labs.push(res.body.id);
    }

    // A long "training run" keeps one kernel busy.
    const kernels = new KernelManager({ serverSettings: jupyterThroughPortal(portal, 'trainer', 'short', tokens[0]) });
    const kernel = await kernels.startNew({ name: 'python3' });
    kernel.requestExecute({ code: 'import time; time.sleep(60)' });
    expect(
      await until(
        async () => kernel.status,
        (s) => s === 'busy',
        10_000,
        100,
      ),
    ).toBe('busy');
    try {
      const culler = portal.app.get(CullerService);
      await new Promise((r) => setTimeout(r, 3000)); // within 2 s of the 4 s idle timeout: time to warn
      expect(await culler.cull()).toEqual({ warned: 1, stopped: 0 });
      const warned = await request(portal.url).get(`/api/labs/${labs[1]}`).set('Authorization', `Bearer ${tokens[1]}`);
      expect(warned.body.state).toBe('ready');
      expect(warned.body.warning.message).toMatch(/^Your lab will stop at .* because it was idle for 4 s/);
      const trainerView = await request(portal.url)
        .get(`/api/labs/${labs[0]}`)
        .set('Authorization', `Bearer ${tokens[0]}`);
      expect(trainerView.body.warning).toBeNull();

      await new Promise((r) => setTimeout(r, 2500));
      expect(await culler.cull()).toEqual({ warned: 0, stopped: 1 });
      const stopped = await until(
        () => db.ds.getRepository(LabSession).findOneByOrFail({ id: labs[1] }),
        (s) => s.state === 'stopped',
        30_000,
      );
      expect(stopped.stateReason).toBe('stopped because it was idle for 4 s');
      expect((await db.ds.getRepository(LabSession).findOneByOrFail({ id: labs[0] })).state).toBe('ready');
      expect(await culler.cull()).toEqual({ warned: 0, stopped: 0 });
    } finally {
      await kernel.shutdown().catch(() => undefined);
      kernel.dispose();
      kernels.dispose();
    }
  }, 120_000);
});
