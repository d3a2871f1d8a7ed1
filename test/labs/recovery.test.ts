import { ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { LabSession } from '../../api/src/modules/labs/lab-session.entity';
import { ReconcilerService } from '../../api/src/modules/labs/reconciler.service';
import { Rig, RigEvent } from '../../api/src/modules/rigs/rig.entity';
import { TelemetryProbeService } from '../../api/src/modules/telemetry/telemetry-probe.service';
import { freePort, migratedDatabase, startPortal, testConfig, TestPortal } from '../support/app';
import {
  cleanEngine,
  containersOf,
  copyImage,
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
import { env, OwnEngine, ROOT } from '../support/services';

const children: ChildProcess[] = [];
afterAll(() => children.forEach((c) => c.kill('SIGKILL')));

/** The real portal as its own process, so that it can be killed like a crashed server. */
async function portalProcess(vars: Record<string, string>): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn(process.execPath, [join(ROOT, 'dist', 'api', 'src', 'main.js')], {
    env: {
      PATH: process.env.PATH,
      RIGLAB_ENV_FILE: '',
      LOG_LEVEL: process.env.RIGLAB_TEST_CHILD_LOG ? 'info' : 'warn',
      RIGLAB_ENV: 'test',
      PORT: String(port),
      HOST: '127.0.0.1',
      ...vars,
    },
    stdio: process.env.RIGLAB_TEST_CHILD_LOG
      ? ['ignore', openSync(process.env.RIGLAB_TEST_CHILD_LOG, 'a'), openSync(process.env.RIGLAB_TEST_CHILD_LOG, 'a')]
      : 'ignore',
  });
  children.push(proc);
  const url = `http://127.0.0.1:${port}`;
  await until(
    () =>
      request(url)
        .get('/api/health')
        .then(
          (r) => r.status,
          () => 0,
        ),
    (s) => s === 200,
    30_000,
  );
  return { url, proc };
}

describe('recovery: the reconciler repairs drift', () => {
  const deployment = randomDeployment();
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let vars: Record<string, string>;

  beforeAll(async () => {
    db = await migratedDatabase();
    vars = {
      DATABASE_URL: db.url,
      REDIS_URL: env.redisUrl,
      SESSION_SECRET: 'r'.repeat(40),
      DEPLOYMENT_ID: deployment,
      LAUNCH_TIMEOUT_S: '60',
      // The student without a GPU waits in the fair GPU queue, for a minute at most here.
      GPU_QUEUE_MAX_WAIT_MINUTES: '1',
      RECONCILE_INTERVAL_S: '5',
      LOST_GRACE_S: '0',
      CULL_INTERVAL_S: '3600',
    };
  });
  afterAll(async () => {
    await cleanEngine(env.dockerHost, deployment);
    await db?.drop();
  });

  it('leaves no orphan container, stuck session or held slot after the portal is killed mid-launch', async () => {
    const course = await newCourse(db.ds);
    const template = await newTemplate(db.ds, course, { slug: 'gpu-lab', gpu: { required: true }, memoryMb: 384 });
    const rig = await newRig(db.ds, 'rig-a', env.dockerHost);
    for (const i of [0, 1, 2]) await newDeviceGpu(db.ds, rig, i, makeDeviceNode(`/tmp/riglab-${deployment}-r${i}`));
    const users = await Promise.all([0, 1, 2, 3].map((i) => newUser(db.ds, `k${i}`)));
    for (const u of users) await enroll(db.ds, u, course);

    const first = await portalProcess(vars);
    const tokens: string[] = [];
    // Tokens are made through a short-lived in-process portal on the same database.
    const helper = await startPortal(
      testConfig({ DATABASE_URL: db.url, DEPLOYMENT_ID: deployment, RUN_WORKERS: 'false' }),
    );
    for (const u of users) tokens.push(await tokenFor(helper, u));
    await helper.close();

    await Promise.all(
      tokens.map((t) =>
        request(first.url).post('/api/labs').set('Authorization', `Bearer ${t}`).send({ templateId: template.id }),
      ),
    );
    // Kill it while launches are in flight: some placed, some starting, one waiting for a GPU.
    await until(
      () => db.ds.getRepository(LabSession).count({ where: { state: 'starting' } }),
      (n) => n > 0,
      20_000,
      50,
    );
    first.proc.kill('SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));

    const second = await portalProcess(vars);
    try {
      // Every launch comes to rest: ready, or failed with a reason; none is left starting.
      const settled = await until(
        () => db.ds.getRepository(LabSession).find(),
        (all) => all.every((s) => ['ready', 'failed'].includes(s.state)),
        150_000,
        500,
      );
      expect(settled.filter((s) => !['ready', 'failed'].includes(s.state))).toEqual([]);
      const ready = new Set(settled.filter((s) => s.state === 'ready').map((s) => s.id));
      expect(ready.size).toBeGreaterThanOrEqual(1);
      expect(ready.size).toBeLessThanOrEqual(3);
      for (const f of settled.filter((s) => s.state === 'failed')) expect(f.stateReason).not.toBe('');
      // At least one launch had to wait for a GPU (4 students, 3 GPUs) and failed cleanly when its wait was up.
      expect(settled.some((s) => /no suitable GPU came free within 1 min in the queue/.test(s.stateReason))).toBe(true);
      // Every container belongs to a ready lab; every held slot to a ready lab.
      const containers = await until(
        () => containersOf(env.dockerHost, deployment),
        (c) => c.length === ready.size,
        30_000,
        500,
      );
      expect(containers.map((c) => c.Labels['org.riglab.session']).sort()).toEqual([...ready].sort());
      const held: Array<{ session_id: string }> = await db.ds.query(
        `SELECT session_id FROM gpu_slots WHERE session_id IS NOT NULL`,
      );
      expect(held.map((h) => h.session_id).sort()).toEqual([...ready].sort());

      for (const [i, u] of users.entries()) {
        const live = settled.find((s) => s.userId === u.id && s.state === 'ready');
        if (live) await request(second.url).delete(`/api/labs/${live.id}`).set('Authorization', `Bearer ${tokens[i]}`);
      }
      await until(
        () => containersOf(env.dockerHost, deployment),
        (c) => c.length === 0,
        30_000,
        500,
      );
      // The stop job removes the container first and frees the slot just after: wait for both.
      const freed = await until(
        () => db.ds.query(`SELECT count(*)::int AS n FROM gpu_slots WHERE session_id IS NOT NULL`),
        (rows: Array<{ n: number }>) => rows[0].n === 0,
        10_000,
        100,
      );
      expect(freed).toEqual([{ n: 0 }]);
    } finally {
      second.proc.kill('SIGTERM');
    }
  }, 300_000);

  describe("when a rig's engine stops", () => {
    const rig2 = new OwnEngine('recovery-rig', 'riglab6', '172.31.246.1/24');
    let portal: TestPortal;

    beforeAll(async () => {
      rig2.start();
      copyImage(LAB_IMAGE, rig2.endpoint);
      portal = await startPortal(testConfig({ ...vars, RECONCILE_INTERVAL_S: '3600' }));
    }, 120_000);
    afterAll(async () => {
      await portal?.close();
      await cleanEngine(rig2.endpoint, deployment).catch(() => undefined);
      rig2.stop();
    });

    it('marks its labs lost, frees their slots, drains it after failed probes; orphan removed and rig back after a clean window', async () => {
      await db.ds.createQueryBuilder().update(Rig).set({ state: 'draining' }).execute(); // only the new rig takes work
      const course = await newCourse(db.ds, 'CS202');
      const template = await newTemplate(db.ds, course, { slug: 'lost-lab', gpu: { required: true }, memoryMb: 384 });
      const rig = await newRig(db.ds, 'rig-b', rig2.endpoint);
      await newDeviceGpu(db.ds, rig, 0, makeDeviceNode(`/tmp/riglab-${deployment}-b0`));
      const dana = await newUser(db.ds, 'dana');
      await enroll(db.ds, dana, course);
      const token = await tokenFor(portal, dana);
      const res = await request(portal.url)
        .post('/api/labs')
        .set('Authorization', `Bearer ${token}`)
        .send({ templateId: template.id });
      expect((await readProgress(portal, res.body.id, token)).pop()).toMatchObject({ ready: true });
      expect(
        await db.ds.query(
          `SELECT count(*)::int AS n FROM gpu_slots s JOIN gpus g ON g.id = s.gpu_id WHERE g.rig_id = $1 AND s.session_id IS NOT NULL`,
          [rig.id],
        ),
      ).toEqual([{ n: 1 }]);

      rig2.stop();
      const reconciler = portal.app.get(ReconcilerService);
      const report = await reconciler.reconcile();
      expect(report.lost).toBe(1);
      const lost = await db.ds.getRepository(LabSession).findOneByOrFail({ id: res.body.id });
      expect(lost.state).toBe('lost');
      expect(lost.stateReason).toMatch(/rig rig-b stopped answering/);
      expect(
        await db.ds.query(
          `SELECT count(*)::int AS n FROM gpu_slots s JOIN gpus g ON g.id = s.gpu_id WHERE g.rig_id = $1 AND s.session_id IS NOT NULL`,
          [rig.id],
        ),
      ).toEqual([{ n: 0 }]);

      // The telemetry probe cannot reach it either: after RIG_PROBE_FAILURES_TO_DRAIN (3) failed probes
      // in a row a health rule drains the rig, so nothing is placed there when it comes back half-broken.
      await db.ds.getRepository(Rig).update({ id: rig.id }, { state: 'active' });
      const probes = portal.app.get(TelemetryProbeService);
      for (let i = 0; i < 3; i++) await probes.probeAll();
      const drained = await db.ds.getRepository(Rig).findOneByOrFail({ id: rig.id });
      expect(drained).toMatchObject({ state: 'draining', drainedByRule: true, probeFailures: 3 });
      expect(drained.stateReason).toMatch(/telemetry probe failed 3 times in a row/);
      const [event] = await db.ds.getRepository(RigEvent).find({ where: { rigId: rig.id }, order: { at: 'DESC' } });
      expect(event).toMatchObject({ fromState: 'active', toState: 'draining', actor: 'rule:probe-failing' });

      rig2.start();
      expect((await containersOf(rig2.endpoint, deployment)).length).toBe(1);
      expect((await reconciler.reconcile()).orphansRemoved).toBe(1);
      expect(await containersOf(rig2.endpoint, deployment)).toEqual([]);

      // Answering again is not enough at once; after a whole clean window the rule puts it back.
      await probes.probeAll();
      expect(await db.ds.getRepository(Rig).findOneByOrFail({ id: rig.id })).toMatchObject({
        state: 'draining',
        probeFailures: 0,
      });
      await db.ds.getRepository(Rig).update({ id: rig.id }, { lastFaultAt: new Date(Date.now() - 31 * 60_000) });
      await probes.probeAll();
      expect((await db.ds.getRepository(Rig).findOneByOrFail({ id: rig.id })).state).toBe('active');
    }, 120_000);
  });
});
