import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import request from 'supertest';
import { AuditEvent } from '../../api/src/modules/audit/audit-event.entity';
import { Rig, RigEvent } from '../../api/src/modules/rigs/rig.entity';
import { migratedDatabase, startPortal, testConfig, type TestPortal } from '../support/app';
import { newRig, newUser, tokenFor } from '../support/labs';
import { env, ROOT } from '../support/services';

const BIN = join(ROOT, 'api', 'bin', 'riglab.js');

describe('rig lifecycle through the API and the CLI', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let portal: TestPortal;
  let admin: string;

  function riglab(...args: string[]) {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      env: {
        PATH: process.env.PATH,
        RIGLAB_ENV_FILE: '',
        DATABASE_URL: db.url,
        REDIS_URL: env.redisUrl,
        SESSION_SECRET: 'y'.repeat(40),
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
  }
  const state = (name: string, body: object) =>
    request(portal.url).post(`/api/rigs/${name}/state`).set('Authorization', `Bearer ${admin}`).send(body);

  beforeAll(async () => {
    db = await migratedDatabase();
    // No workers: entering burn-in queues a real run, which must not race this test's own transitions.
    portal = await startPortal(
      testConfig({ DATABASE_URL: db.url, RECONCILE_INTERVAL_S: '3600', RUN_WORKERS: 'false' }),
    );
    admin = await tokenFor(portal, await newUser(db.ds, 'ada', 'admin'), ['read', 'rigs:admin']);
  });
  afterAll(async () => {
    await portal?.close();
    await db?.drop();
  });

  it('keeps existing rigs active, and takes an idle rig to maintenance, through burn-in and back, with history and audit', async () => {
    await newRig(db.ds, 'rig-a', 'unix:///nowhere.sock');
    const list = await request(portal.url).get('/api/rigs').set('Authorization', `Bearer ${admin}`);
    expect(list.body[0]).toMatchObject({ name: 'rig-a', state: 'active', drainTarget: null });

    const m = await state('rig-a', { to: 'maintenance', reason: 'replace riser on GPU 2' });
    expect([m.status, m.body.state, m.body.stateReason]).toEqual([200, 'maintenance', 'replace riser on GPU 2']);
    const refused = await state('rig-a', { to: 'active', reason: 'fixed' });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toBe(
      "rig 'rig-a' not changed: a rig cannot go from maintenance to active: it must pass burn-in first (from maintenance it can go to burn-in, retired)",
    );
    expect((await state('rig-a', { to: 'burn-in', reason: 'riser replaced' })).body.state).toBe('burn-in');
    expect((await state('rig-a', { to: 'active', reason: 'burn-in passed' })).body.state).toBe('active');

    const events = await request(portal.url).get('/api/rigs/rig-a/events').set('Authorization', `Bearer ${admin}`);
    expect(
      events.body.map((e: { from: string; to: string; actor: string; reason: string }) => [
        e.from,
        e.to,
        e.actor,
        e.reason,
      ]),
    ).toEqual([
      ['active', 'maintenance', 'ada', 'replace riser on GPU 2'],
      ['maintenance', 'burn-in', 'ada', 'riser replaced'],
      ['burn-in', 'active', 'ada', 'burn-in passed'],
    ]);
    const audit = await db.ds.getRepository(AuditEvent).find({ where: { action: 'rig.state' }, order: { id: 'ASC' } });
    expect(audit.map((a) => [a.actor, a.detail.from, a.detail.to, a.detail.reason])).toEqual([
      ['ada', 'active', 'maintenance', 'replace riser on GPU 2'],
      ['ada', 'maintenance', 'burn-in', 'riser replaced'],
      ['ada', 'burn-in', 'active', 'burn-in passed'],
    ]);
  });

  it('refuses bad requests with a clear 400 and changes nothing', async () => {
    await newRig(db.ds, 'rig-b', 'unix:///nowhere.sock');
    const cases: Array<[object, RegExp]> = [
      [{ to: 'broken', reason: 'x' }, /to must be one of the following values/],
      [{ to: 'draining' }, /reason/],
      [
        { to: 'draining', reason: 'x', deadline: 'tomorrow' },
        /deadline 'tomorrow' is not a duration: use e.g. 90s, 30m or 2h/,
      ],
      [{ to: 'active', reason: 'x' }, /the rig is active already/],
    ];
    for (const [body, message] of cases) {
      const r = await state('rig-b', body);
      expect([r.status, JSON.stringify(r.body.message)]).toEqual([400, expect.stringMatching(message)]);
      expect(JSON.stringify(r.body)).not.toMatch(/\bat .*\.ts:\d+/);
    }
    expect((await state('nope', { to: 'draining', reason: 'x' })).status).toBe(404);
    const rig = await db.ds.getRepository(Rig).findOneByOrFail({ name: 'rig-b' });
    expect([rig.state, rig.stateReason]).toEqual(['active', '']);
    expect(await db.ds.getRepository(RigEvent).count({ where: { rigId: rig.id } })).toBe(0);
  });

  it('drains, retires and shows history from the CLI; a retired rig stays retired and leaves the list', async () => {
    await newRig(db.ds, 'rig-c', 'unix:///nowhere.sock');
    const drained = riglab('rig', 'drain', 'rig-c', '--reason', 'noisy fan', '--deadline', '30m');
    expect(drained.code).toBe(0);
    expect(drained.out).toMatch(/^rig rig-c is draining; running labs stop at \d{4}-\d\d-\d\dT/);
    const rig = await db.ds.getRepository(Rig).findOneByOrFail({ name: 'rig-c' });
    const ahead = rig.drainDeadline!.getTime() - Date.now();
    expect(ahead).toBeGreaterThan(29 * 60_000);
    expect(ahead).toBeLessThanOrEqual(30 * 60_000);

    expect(riglab('rig', 'retire', 'rig-c', '--reason', 'end of life')).toMatchObject({
      code: 0,
      out: 'rig rig-c is retired',
    });
    expect(riglab('rig', 'activate', 'rig-c', '--reason', 'oops')).toEqual({
      code: 2,
      out: '',
      err: "riglab: error: rig 'rig-c' not changed: a retired rig stays retired (its history is kept)",
    });
    expect(riglab('rig', 'drain', 'rig-c', '--deadline', 'later', '--reason', 'x')).toMatchObject({
      code: 2,
      err: expect.stringContaining("--deadline must be a duration such as 90s, 30m or 2h (got 'later')"),
    });
    const history = riglab('rig', 'events', 'rig-c', '--json');
    expect(
      JSON.parse(history.out).map((e: { from: string; to: string; actor: string }) => [e.from, e.to, e.actor]),
    ).toEqual([
      ['active', 'draining', 'cli'],
      ['draining', 'retired', 'cli'],
    ]);
    const list = await request(portal.url).get('/api/rigs').set('Authorization', `Bearer ${admin}`);
    expect(list.body.map((r: { name: string }) => r.name)).not.toContain('rig-c');
    const audit = await db.ds.getRepository(AuditEvent).find({ where: { action: 'rig.state', targetId: 'rig-c' } });
    expect(audit.map((a) => [a.actor, a.detail.to, a.detail.reason])).toEqual([
      ['cli', 'draining', 'noisy fan'],
      ['cli', 'retired', 'end of life'],
    ]);
  });
});
