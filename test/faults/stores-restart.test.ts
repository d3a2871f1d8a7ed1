import request from 'supertest';
import { DataSource } from 'typeorm';
import { LabSession } from '../../api/src/modules/labs/lab-session.entity';
import { LabTemplate } from '../../api/src/modules/templates/lab-template.entity';
import { User } from '../../api/src/modules/users/user.entity';
import { createDataSource } from '../../api/src/platform/db/data-source';
import { startPortal, testConfig, TestPortal } from '../support/app';
import {
  cleanEngine,
  containersOf,
  enroll,
  newCourse,
  newRig,
  newTemplate,
  newUser,
  randomDeployment,
  tokenFor,
  until,
} from '../support/labs';
import { env, OwnRedis } from '../support/services';
import { OwnPostgres } from './own-postgres';

// Redis, then PostgreSQL, go away and come back under a running portal (stores of the test's own,
// never the shared ones). The portal must recover by itself: health back to ok, new launches work,
// launches in flight at the time end ready or failed with a reason, and no session gets two containers.

const RESTING = ['ready', 'failed', 'stopped'];

describe('faults: Redis and PostgreSQL restart under a running portal', () => {
  const deployment = randomDeployment();
  const redis = new OwnRedis('faults-stores', 63851);
  const pg = new OwnPostgres(54351);
  let ds: DataSource;
  let portal: TestPortal;
  let template: LabTemplate;
  const tokens = new Map<string, string>();
  let students: User[] = [];

  beforeAll(async () => {
    redis.start();
    pg.start();
    const url = await pg.database('riglab_faults_stores');
    ds = createDataSource(url);
    await ds.initialize();
    portal = await startPortal(
      testConfig({
        DATABASE_URL: url,
        REDIS_URL: redis.url,
        DEPLOYMENT_ID: deployment,
        LAUNCH_TIMEOUT_S: '60',
        RECONCILE_INTERVAL_S: '5',
        CULL_INTERVAL_S: '3600',
        LOST_GRACE_S: '0',
      }),
    );
    const course = await newCourse(ds);
    template = await newTemplate(ds, course, { memoryMb: 256 });
    await newRig(ds, 'rig-local', env.dockerHost);
    students = await Promise.all(Array.from({ length: 8 }, (_, i) => newUser(ds, `s${i}`)));
    for (const s of students) {
      await enroll(ds, s, course);
      tokens.set(s.id, await tokenFor(portal, s));
    }
  }, 120_000);

  afterAll(async () => {
    await portal?.close().catch(() => undefined);
    await ds?.destroy().catch(() => undefined);
    await cleanEngine(env.dockerHost, deployment);
    redis.stop();
    pg.destroy();
  }, 60_000);

  const health = () =>
    request(portal.url)
      .get('/api/health')
      .timeout(10_000)
      .then(
        (r) => ({ code: r.status, status: r.body?.status as string }),
        () => ({ code: 0, status: 'no answer' }),
      );

  const launch = (s: User) =>
    request(portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${tokens.get(s.id)}`)
      .timeout(15_000)
      .send({ templateId: template.id })
      .then(
        (r) => r,
        (err: Error) => ({ status: 0, body: { message: err.message } }) as request.Response,
      );

  /** Waits for the given students' sessions to come to rest, read from the database. */
  const settle = (users: User[], timeoutMs: number) =>
    until(
      () => ds.getRepository(LabSession).find({ where: users.map((u) => ({ userId: u.id })) }),
      (all) => all.length >= users.length && all.every((s) => RESTING.includes(s.state)),
      timeoutMs,
      500,
    );

  async function noDuplicateContainers(): Promise<void> {
    const containers = await containersOf(env.dockerHost, deployment);
    const perSession = new Map<string, number>();
    for (const c of containers) {
      const id = c.Labels['org.riglab.session'];
      perSession.set(id, (perSession.get(id) ?? 0) + 1);
    }
    const twice = [...perSession].filter(([, n]) => n > 1);
    console.log(`containers: ${containers.length} for ${perSession.size} sessions, ${twice.length} with more than one`);
    expect(twice).toEqual([]);
    // Every container belongs to a lab that is ready (none left over by a failed launch).
    const ready = await ds.getRepository(LabSession).find({ where: { state: 'ready' } });
    expect([...perSession.keys()].sort()).toEqual(ready.map((s) => s.id).sort());
  }

  it('a launch works before anything breaks', async () => {
    expect(await health()).toEqual({ code: 200, status: 'ok' });
    const res = await launch(students[0]);
    expect(res.status).toBe(202);
    const [s] = await settle([students[0]], 90_000);
    expect(s.state).toBe('ready');
  }, 120_000);

  it('recovers from a Redis restart without a portal restart', async () => {
    const inFlight = [students[1], students[2]];
    const launched = await Promise.all(inFlight.map(launch));
    expect(launched.map((r) => r.status)).toEqual([202, 202]);
    const cut = Date.now();
    redis.stop();
    // While Redis is away the portal says so, and still answers.
    const during = await until(health, (h) => h.status === 'degraded', 15_000, 200);
    expect(during).toEqual({ code: 200, status: 'degraded' });
    // A launch while Redis is away is still taken: the session in Postgres is the record, and the
    // reconciler gives it its job once Redis is back.
    const whileDown = await launch(students[3]);
    console.log(
      `launch while Redis is down: HTTP ${whileDown.status} ${whileDown.body?.state ?? whileDown.body?.message}`,
    );
    expect(whileDown.status).toBe(202);
    await new Promise((r) => setTimeout(r, 3000));

    const back = Date.now();
    redis.start();
    const healed = await until(health, (h) => h.status === 'ok', 60_000, 200);
    const recoveredMs = Date.now() - back;
    console.log(
      `redis: down ${((back - cut) / 1000).toFixed(1)} s; health ok ${(recoveredMs / 1000).toFixed(1)} s after it came back`,
    );
    expect(healed).toEqual({ code: 200, status: 'ok' });

    // A launch after the restart works.
    const after = students[4];
    expect((await launch(after)).status).toBe(202);
    const started = Date.now();
    const rest = await settle([...inFlight, students[3], after], 90_000);
    console.log(
      `redis: in-flight launches settled ${((Date.now() - started) / 1000).toFixed(1)} s after a new launch: ` +
        rest.map((s) => `${s.state}${s.stateReason ? ` (${s.stateReason})` : ''}`).join(', '),
    );
    expect(rest.every((s) => RESTING.includes(s.state))).toBe(true);
    for (const s of rest.filter((x) => x.state === 'failed')) expect(s.stateReason).not.toBe('');
    expect(rest.find((s) => s.userId === after.id)?.state).toBe('ready');
    expect(rest.find((s) => s.userId === students[3].id)?.state).toBe('ready');
    await noDuplicateContainers();
  }, 300_000);

  it('recovers from a PostgreSQL restart without a portal restart', async () => {
    redis.start(); // no-op when it runs (it may not, if the Redis test failed half-way)
    const inFlight = [students[5], students[6]];
    const launched = await Promise.all(inFlight.map(launch));
    expect(launched.map((r) => r.status)).toEqual([202, 202]);
    const cut = Date.now();
    pg.stop();
    const during = await until(health, (h) => h.code === 503, 15_000, 200);
    console.log(`health while PostgreSQL is down: HTTP ${during.code} ${during.status}`);
    expect(during).toEqual({ code: 503, status: 'down' });
    await new Promise((r) => setTimeout(r, 3000));

    const back = Date.now();
    pg.start();
    const healed = await until(health, (h) => h.status === 'ok', 60_000, 200);
    const recoveredMs = Date.now() - back;
    console.log(
      `postgres: down ${((back - cut) / 1000).toFixed(1)} s; health ok ${(recoveredMs / 1000).toFixed(1)} s after it came back`,
    );
    expect(healed).toEqual({ code: 200, status: 'ok' });

    // The test's own connection pool saw the restart too; it reconnects on the next query.
    await ds.query('SELECT 1').catch(() => undefined);
    const after = students[7];
    expect((await launch(after)).status).toBe(202);
    const started = Date.now();
    const rest = await settle([...inFlight, after], 90_000);
    console.log(
      `postgres: in-flight launches settled ${((Date.now() - started) / 1000).toFixed(1)} s after a new launch: ` +
        rest.map((s) => `${s.state}${s.stateReason ? ` (${s.stateReason})` : ''}`).join(', '),
    );
    expect(rest.every((s) => RESTING.includes(s.state))).toBe(true);
    for (const s of rest.filter((x) => x.state === 'failed')) expect(s.stateReason).not.toBe('');
    expect(rest.find((s) => s.userId === after.id)?.state).toBe('ready');
    await noDuplicateContainers();
  }, 300_000);
});
