import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import request from 'supertest';
import type { GpuSample, RigSample } from '../../spawner/src/probes/sample';
import { AuditEvent } from '../../api/src/modules/audit/audit-event.entity';
import { LabSession } from '../../api/src/modules/labs/lab-session.entity';
import type { RigReliability } from '../../api/src/modules/rig-health/reliability.policy';
import { RigHealthService } from '../../api/src/modules/rig-health/rig-health.service';
import { RigScoringService } from '../../api/src/modules/rig-health/rig-scoring.service';
import { Gpu, Rig, RigEvent } from '../../api/src/modules/rigs/rig.entity';
import type { Course } from '../../api/src/modules/courses/course.entity';
import {
  enroll,
  labPortal,
  makeDeviceNode,
  newCourse,
  newDeviceGpu,
  newRig,
  newTemplate,
  newUser,
  readProgress,
  tokenFor,
  until,
} from '../support/labs';
import { env, ROOT } from '../support/services';

// Reliability scores measured from rows as the probes, launches and health rules write them, checked
// against figures worked out by hand; the floor; and placement reading the scores the job stored.

const HOUR = 3_600_000;
const BIN = join(ROOT, 'api', 'bin', 'riglab.js');
const NOWHERE = 'unix:///nowhere/reliability.sock';

describe('rig reliability', () => {
  // Three complete hours of probes before a rig is judged; the job only when the test runs it.
  const f = labPortal({ RIG_RELIABILITY_MIN_HOURS: '3', RIG_RELIABILITY_INTERVAL_S: '86400' });
  const now = new Date();
  const H = Math.floor(now.getTime() / HOUR) * HOUR;
  const ago = (ms: number) => new Date(now.getTime() - ms);
  let admin: string;
  let course: Course;
  let versionId: string;
  let student: string;

  const api = () => request(f.portal.url);
  const reliability = async (): Promise<RigReliability[]> => {
    const res = await api().get('/api/rigs/reliability').set('Authorization', `Bearer ${admin}`);
    expect(res.status).toBe(200);
    return res.body;
  };
  /** `hours` of probe counts ending before the current hour: [hoursBack, up, down]. */
  const probes = async (table: 'rig' | 'gpu', id: string, rows: Array<[number, number, number]>) => {
    for (const [back, up, down] of rows)
      await f.db.ds.query(
        `INSERT INTO ${table}_availability (${table}_id, hour, probes_up, probes_down) VALUES ($1, $2, $3, $4)`,
        [id, new Date(H - back * HOUR), up, down],
      );
  };
  const hours = (from: number, to: number, up: number, down: number): Array<[number, number, number]> =>
    Array.from({ length: to - from + 1 }, (_, i) => [from + i, up, down]);
  const launches = async (rig: Rig, gpu: Gpu | null, n: number, failed: number, at = ago(2 * HOUR)) => {
    for (let i = 0; i < n; i++)
      await f.db.ds.query(
        `INSERT INTO lab_sessions (user_id, course_id, template_version_id, name, state, rig_id, gpu_id, started_at, stopped_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`,
        [student, course.id, versionId, `s${i}`, i < failed ? 'failed' : 'stopped', rig.id, gpu?.id ?? null, at],
      );
  };
  const quarantined = (rig: string, gpu: number, at: Date, action = 'gpu.quarantine') =>
    f.db.ds.getRepository(AuditEvent).insert({
      action,
      actor: 'rule',
      targetType: 'rig',
      targetId: rig,
      detail: { gpu, rules: ['xid'], why: 'seeded' },
      at,
    });
  const event = (rig: Rig, from: string, to: string, actor: string, at: Date) =>
    f.db.ds.query(
      `INSERT INTO rig_events (rig_id, from_state, to_state, reason, actor, at) VALUES ($1, $2, $3, 'seeded', $4, $5)`,
      [rig.id, from, to, actor, at],
    );
  const gpuRow = (rigId: string, index: number) =>
    f.db.ds.getRepository(Gpu).save({ rigId, index, model: 'GTX 1070', vramMb: 8192, driverKind: 'nvidia' });

  beforeAll(async () => {
    // The scoring job's first round runs at boot: let it pass before rows are seeded under it.
    await until(
      async () => (await api().get('/metrics')).text,
      (t) => /riglab_jobs_total\{job="score-rigs"/.test(t),
      10_000,
    );
    const ada = await newUser(f.db.ds, 'ada', 'admin');
    admin = await tokenFor(f.portal, ada);
    course = await newCourse(f.db.ds);
    const template = await newTemplate(f.db.ds, course, { slug: 'seeded' });
    [{ id: versionId }] = await f.db.ds.query(`SELECT id FROM lab_template_versions WHERE template_id = $1`, [
      template.id,
    ]);
    student = (await newUser(f.db.ds, 'sam')).id;
  });

  it('scores each rig and GPU from probes, launches and faults in its window, as worked out by hand', async () => {
    // rig-a: up 90% of probes, 2 of 20 launches failed, 7 faults in 7 days → 0.9 × 0.9 − 0.05 × 1 = 0.76.
    const a = await newRig(f.db.ds, 'rig-a', NOWHERE);
    const a0 = await gpuRow(a.id, 0);
    await gpuRow(a.id, 1); // never used: a clean 1
    await probes('rig', a.id, hours(1, 10, 90, 10));
    await probes('gpu', a0.id, hours(1, 10, 80, 20));
    await launches(a, a0, 10, 2);
    await launches(a, null, 10, 0);
    await event(a, 'active', 'draining', 'rule:probe-failing', ago(5 * HOUR));
    for (let i = 0; i < 6; i++) await quarantined('rig-a', 0, ago((i + 1) * HOUR));
    // Not faults: a person's drain, the floor's own verdicts, a GPU put back, a fault older than the window.
    await event(a, 'active', 'draining', 'ada', ago(4 * HOUR));
    await event(a, 'active', 'draining', 'rule:reliability', ago(3 * HOUR));
    await quarantined('rig-a', 0, ago(HOUR), 'gpu.recover');
    await quarantined('rig-a', 1, ago(8 * 24 * HOUR));
    await probes('rig', a.id, [[8 * 24, 0, 100]]);

    // rig-b: clean.
    const b = await newRig(f.db.ds, 'rig-b', NOWHERE);
    const b0 = await gpuRow(b.id, 0);
    await probes('rig', b.id, hours(1, 10, 100, 0));
    await probes('gpu', b0.id, hours(1, 10, 100, 0));
    await launches(b, null, 10, 0);

    // rig-new: dreadful, but only 1 complete hour of probes (3 needed): not judged.
    const n = await newRig(f.db.ds, 'rig-new', NOWHERE);
    await probes('rig', n.id, [
      [1, 0, 10],
      [0, 5, 5],
    ]);

    // rig-reset: passed burn-in 5 h ago; what went wrong before does not count, nor the hour it passed in.
    const r = await newRig(f.db.ds, 'rig-reset', NOWHERE);
    const r0 = await gpuRow(r.id, 0);
    const passed = ago(5 * HOUR);
    await event(r, 'active', 'draining', 'rule:xid', ago(7 * HOUR));
    await event(r, 'burn-in', 'active', 'rule:burn-in', passed);
    await probes('rig', r.id, [...hours(5, 10, 0, 100), ...hours(1, 4, 100, 0)]);
    await launches(r, r0, 4, 4, ago(6 * HOUR));
    await quarantined('rig-reset', 0, ago(6 * HOUR));
    await quarantined('rig-reset', 0, ago(HOUR));

    const all = await reliability();
    expect(all.map((x) => x.rig)).toEqual(['rig-a', 'rig-b', 'rig-new', 'rig-reset']);
    const [ra, rb, rn, rr] = all;
    const week = (iso: string) => Math.abs(new Date(iso).getTime() - (Date.now() - 7 * 24 * HOUR)) < 60_000;
    expect(week(ra.windowStart)).toBe(true);
    expect(ra).toEqual({
      rig: 'rig-a',
      score: 0.76,
      availability: 0.9,
      launchSuccess: 0.9,
      launches: 20,
      failedLaunches: 2,
      faults: 7,
      faultsPerDay: 1,
      windowStart: ra.windowStart,
      belowFloor: true,
      floor: 0.9,
      judged: true,
      gpus: [
        // 0.8 × 0.8 − 0.05 × 6/7
        {
          index: 0,
          model: 'GTX 1070',
          score: 0.597,
          availability: 0.8,
          launches: 10,
          failedLaunches: 2,
          faults: 6,
          faultsPerDay: 0.857,
        },
        {
          index: 1,
          model: 'GTX 1070',
          score: 1,
          availability: 1,
          launches: 0,
          failedLaunches: 0,
          faults: 0,
          faultsPerDay: 0,
        },
      ],
    });
    expect(rb).toMatchObject({ score: 1, availability: 1, launches: 10, belowFloor: false, judged: true });
    expect(rb.gpus).toEqual([expect.objectContaining({ index: 0, score: 1 })]);
    // 5 up of 20 probes: far below the floor, but not judged, so not below it.
    expect(rn).toMatchObject({ score: 0.25, availability: 0.25, judged: false, belowFloor: false, gpus: [] });
    // One fault since the burn-in, rated over at least a day: 1 − 0.05.
    expect(rr).toMatchObject({
      windowStart: passed.toISOString(),
      score: 0.95,
      availability: 1,
      launches: 0,
      faults: 1,
      faultsPerDay: 1,
      judged: true,
      belowFloor: false,
    });
    expect(rr.gpus).toEqual([expect.objectContaining({ index: 0, score: 0.95, faults: 1 })]);
  });

  it("is routed ahead of `GET /api/rigs/:name`, so 'reliability' is never read as a rig name", () => {
    // Express matches routes in the order they were added; its types leave out `route.methods`.
    type Layer = { route?: { path: string; methods: Record<string, boolean> } };
    const stack = f.portal.app.getHttpAdapter().getInstance().router.stack as unknown as Layer[];
    const gets = stack.filter((l) => l.route?.methods.get).map((l) => l.route!.path);
    const mine = gets.indexOf('/api/rigs/reliability');
    expect(mine).toBeGreaterThanOrEqual(0);
    for (const [i, path] of gets.entries()) if (/^\/api\/rigs\/:[^/]+$/.test(path)) expect(i).toBeGreaterThan(mine);
  });

  it('sends an active rig below the floor to burn-in with the score and its cause, and judges no one too new', async () => {
    const result = await f.portal.app.get(RigScoringService).score(new Date());
    expect(result).toEqual({ scored: 4, toBurnIn: ['rig-a'] });
    const rigA = await f.db.ds.getRepository(Rig).findOneByOrFail({ name: 'rig-a' });
    const [moved] = await f.db.ds
      .getRepository(RigEvent)
      .find({ where: { rigId: rigA.id, toState: 'burn-in' }, order: { id: 'ASC' } });
    const reason =
      'reliability 0.760 is below the floor 0.90 over the last 7.0 days, mostly from failed probes (the rig was down): ' +
      'up 90.0% of probes, 2 of 20 launches failed, 7 health-rule fault(s) (1.00 a day)';
    expect([moved.fromState, moved.toState, moved.actor, moved.reason]).toEqual([
      'active',
      'burn-in',
      'rule:reliability',
      reason,
    ]);
    const audit = await f.db.ds.getRepository(AuditEvent).findOneByOrFail({ action: 'rig.state', targetId: 'rig-a' });
    expect([audit.actor, audit.detail.reason, audit.detail.to]).toEqual(['rule:reliability', reason, 'burn-in']);
    for (const name of ['rig-b', 'rig-new', 'rig-reset'])
      expect((await f.db.ds.getRepository(Rig).findOneByOrFail({ name })).state).toBe('active');

    const metrics = (await api().get('/metrics')).text;
    expect(metrics).toMatch(/^riglab_rig_reliability\{rig="rig-a"\} 0\.76$/m);
    expect(metrics).toMatch(/^riglab_rig_reliability\{rig="rig-new"\} 0\.25$/m);
    expect(metrics).toMatch(/^riglab_gpu_reliability\{rig="rig-a",gpu="0"\} 0\.597$/m);
    // A second round moves nothing more: rig-a is no longer active.
    expect((await f.portal.app.get(RigScoringService).score(new Date())).toBurnIn).toEqual([]);
  });

  it('counts every probe into its hour: failed probes, and a quarantined GPU, as down', async () => {
    const rig = await newRig(f.db.ds, 'rig-count', NOWHERE);
    const g0 = await gpuRow(rig.id, 0);
    const gpu = (xids: number[]): GpuSample => ({
      ...{ index: 0, id: 'GPU-0', model: 'GTX 1070', driver: 'nvidia', driverVersion: null, pciBusId: null },
      ...{ temperatureC: 50, fanPercent: 30, fanRpm: null, powerW: null, powerLimitW: null, memoryUsedMb: null },
      ...{ memoryTotalMb: null, utilizationPercent: null, smClockMhz: null, memoryClockMhz: null, throttleReasons: [] },
      ...{ pcieGen: null, pcieGenMax: null, pcieWidth: 16, pcieWidthMax: 16, pcieReplays: 0, xids },
    });
    const sample = (xids: number[]): RigSample => ({
      ...{ at: new Date().toISOString(), load1: null, cpus: null, memoryTotalMb: null, memoryAvailableMb: null },
      ...{ diskTotalMb: 100_000, diskFreeMb: 50_000, gpus: [gpu(xids)], sensors: [], notAvailable: [] },
    });
    const health = f.portal.app.get(RigHealthService);
    await health.ingest(rig.id, sample([]), { engineReachable: true });
    await health.ingest(rig.id, sample([79]), { engineReachable: true }); // quarantines GPU 0
    await health.ingest(rig.id, null, { probeFailed: true });
    const sum = async (table: string, col: string, id: string) =>
      (
        await f.db.ds.query(
          `SELECT sum(probes_up)::int AS up, sum(probes_down)::int AS down FROM ${table} WHERE ${col} = $1`,
          [id],
        )
      )[0];
    expect(await sum('rig_availability', 'rig_id', rig.id)).toEqual({ up: 2, down: 1 });
    expect(await sum('gpu_availability', 'gpu_id', g0.id)).toEqual({ up: 1, down: 2 });
    const view = (await reliability()).find((r) => r.rig === 'rig-count')!;
    // 2/3 up, one quarantine in 7 days: 0.6667 − 0.05/7; the GPU 1/3 − 0.05/7.
    expect(view).toMatchObject({ availability: 0.6667, faults: 1, score: 0.66, judged: false });
    expect(view.gpus).toEqual([expect.objectContaining({ availability: 0.3333, faults: 1, score: 0.326 })]);
  });

  it('prints the scores with `riglab rig reliability`, as a table and as JSON', () => {
    const run = (...args: string[]) =>
      execFileSync(process.execPath, [BIN, 'rig', 'reliability', ...args], {
        env: {
          PATH: process.env.PATH,
          RIGLAB_ENV_FILE: '',
          DATABASE_URL: f.db.url,
          REDIS_URL: env.redisUrl,
          SESSION_SECRET: 'y'.repeat(40),
          RIG_RELIABILITY_MIN_HOURS: '3',
          LOG_LEVEL: 'silent',
        },
      }).toString();
    const json: RigReliability[] = JSON.parse(run('--json'));
    expect(json.find((r) => r.rig === 'rig-b')).toMatchObject({ score: 1, judged: true });
    const lines = run().trim().split('\n');
    expect(lines[0].split(/\s+/)).toEqual(['RIG', 'SCORE', 'UP', 'LAUNCHES', 'FAULTS', 'VERDICT', 'SINCE']);
    expect(lines.find((l) => l.startsWith('rig-new'))).toMatch(
      /^rig-new\s+0\.250\s+25\.0%\s+0\/0 ok\s+0 \(0\.00\/day\)\s+not judged yet /,
    );
    expect(lines.find((l) => l.startsWith('  gpu 0 GTX 1070') && l.includes('0.597'))).toMatch(
      /^ {2}gpu 0 GTX 1070\s+0\.597\s+80\.0%\s+8\/10 ok\s+6 \(0\.86\/day\)$/,
    );
  });

  it('sends a GPU lab to the more reliable of two rigs that fit, and a short CPU lab by load as before', async () => {
    // p1 has more room (today's order picks it) but is up only 93% of probes; p2 is clean.
    const p1 = await newRig(f.db.ds, 'rig-p1', env.dockerHost, { memoryMb: 32768 });
    const p2 = await newRig(f.db.ds, 'rig-p2', env.dockerHost, { memoryMb: 16384 });
    const g1 = await newDeviceGpu(f.db.ds, p1, 0, makeDeviceNode(`/tmp/riglab-${f.deployment}-r1`));
    const g2 = await newDeviceGpu(f.db.ds, p2, 0, makeDeviceNode(`/tmp/riglab-${f.deployment}-r2`));
    await probes('rig', p1.id, hours(1, 5, 93, 7));
    await probes('gpu', g1.id, hours(1, 5, 93, 7));
    await probes('rig', p2.id, hours(1, 5, 100, 0));
    await probes('gpu', g2.id, hours(1, 5, 100, 0));
    // Placement reads only what the job stored.
    await f.portal.app.get(RigScoringService).score(new Date());
    const stored = await f.db.ds.query(
      `SELECT r.name, s.score FROM rig_reliability_scores s JOIN rigs r ON r.id = s.rig_id WHERE r.name LIKE 'rig-p%' ORDER BY 1`,
    );
    expect(stored).toEqual([
      { name: 'rig-p1', score: 0.93 },
      { name: 'rig-p2', score: 1 },
    ]);

    const gpuLab = await newTemplate(f.db.ds, course, {
      slug: 'gpu-lab',
      gpu: { required: true, models: ['GTX 1070'] },
    });
    const shortLab = await newTemplate(f.db.ds, course, { slug: 'short-lab', maxAgeS: 3600 });
    const launch = async (username: string, templateId: string) => {
      const user = await newUser(f.db.ds, username);
      await enroll(f.db.ds, user, course);
      const token = await tokenFor(f.portal, user);
      const res = await api().post('/api/labs').set('Authorization', `Bearer ${token}`).send({ templateId });
      expect(res.status).toBe(202);
      expect((await readProgress(f.portal, res.body.id, token)).pop()).toMatchObject({ ready: true });
      const lab = await f.db.ds.getRepository(LabSession).findOneByOrFail({ id: res.body.id });
      await api().delete(`/api/labs/${lab.id}`).set('Authorization', `Bearer ${token}`);
      return lab;
    };
    const onGpu = await launch('gina', gpuLab.id);
    expect([onGpu.rigId, onGpu.gpuId]).toEqual([p2.id, g2.id]);
    const onCpu = await launch('carl', shortLab.id);
    expect(onCpu.rigId).toBe(p1.id);
  }, 120_000);
});
