import Docker from 'dockerode';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import request from 'supertest';
import { BurnInRun } from '../../api/src/modules/burn-in/burn-in-run.entity';
import type { BurnInRunView } from '../../api/src/modules/burn-in/burn-in.policy';
import { BurnInService } from '../../api/src/modules/burn-in/burn-in.service';
import { LabSession } from '../../api/src/modules/labs/lab-session.entity';
import { Not } from 'typeorm';
import { Gpu, Rig, RigEvent } from '../../api/src/modules/rigs/rig.entity';
import { BurnInRunner } from '../../spawner/src';
import { startPortal } from '../support/app';
import {
  enroll,
  labPortal,
  makeDeviceNode,
  newCourse,
  newDeviceGpu,
  newRig,
  newTemplate,
  newUser,
  tokenFor,
  until,
} from '../support/labs';
import { env, ROOT } from '../support/services';

// Burn-in on the real local engine: every check is a real container. The sweep's period is long so
// that the test says when runs nobody executes are picked up (a CLI run, a run cut by a restart).

const engine = new Docker({ socketPath: env.dockerHost.replace('unix://', '') });
const BIN = join(ROOT, 'api', 'bin', 'riglab.js');
/** The CLI as campus IT runs it, against the test's database (it has no queue of its own). */
const riglab = (databaseUrl: string, ...args: string[]) =>
  spawn(process.execPath, [BIN, ...args], {
    env: {
      PATH: process.env.PATH,
      RIGLAB_ENV_FILE: '',
      DATABASE_URL: databaseUrl,
      REDIS_URL: env.redisUrl,
      SESSION_SECRET: 'y'.repeat(40),
    },
  });

describe('rig burn-in', () => {
  const f = labPortal({ RIG_BURNIN_SWEEP_INTERVAL_S: '3600' });
  let admin: string;
  const api = () => request(f.portal.url);
  const runs = async (rig: string): Promise<BurnInRunView[]> =>
    (await api().get(`/api/rigs/${rig}/burn-in`).set('Authorization', `Bearer ${admin}`)).body;
  const finished = (rig: string, timeoutMs = 40_000) =>
    until(
      () => runs(rig),
      // A run that is not listed yet is not finished either.
      (r) => Array.isArray(r) && r.length > 0 && r[0].status !== 'running',
      timeoutMs,
      200,
    );
  const leftovers = async (rigId: string) => {
    const filters = JSON.stringify({ label: ['org.riglab.role=burn-in', `org.riglab.rig=${rigId}`] });
    return {
      containers: (await engine.listContainers({ all: true, filters })).length,
      volumes: ((await engine.listVolumes({ filters })).Volumes ?? []).length,
    };
  };
  const events = async (rigId: string) =>
    (await f.db.ds.getRepository(RigEvent).find({ where: { rigId }, order: { id: 'ASC' } })).map((e) => [
      e.fromState,
      e.toState,
      e.actor,
      e.reason,
    ]);

  beforeAll(async () => {
    admin = await tokenFor(f.portal, await newUser(f.db.ds, 'ada', 'admin'), ['read', 'rigs:admin']);
  });

  it('passes a healthy rig with plausible figures, leaves nothing on the engine, and puts the rig in the pool', async () => {
    const rig = await newRig(f.db.ds, 'rig-ok', env.dockerHost, { state: 'maintenance' });
    await newDeviceGpu(f.db.ds, rig, 0, makeDeviceNode(`/tmp/riglab-burnin-gpu0-${process.pid}`));
    await f.db.ds
      .getRepository(Gpu)
      .save({ rigId: rig.id, index: 1, model: 'RTX 3060', vramMb: 12288, driverKind: 'nvidia', deviceIds: ['0'] });
    const { NCPU } = await engine.info();

    const started = await api()
      .post('/api/rigs/rig-ok/burn-in')
      .set('Authorization', `Bearer ${admin}`)
      .send({ reason: 'fan replaced' });
    expect(started.status).toBe(202);
    expect(started.body).toEqual({
      id: expect.any(String),
      rig: 'rig-ok',
      status: 'running',
      startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      finishedAt: null,
      reason: '',
      progress: { done: 0, total: 5, current: null },
      checks: ['cpu', 'memory', 'disk', 'gpu:0', 'gpu:1'].map((name) => ({
        name,
        status: 'pending',
        detail: '',
        figures: {},
        startedAt: null,
        finishedAt: null,
      })),
    });
    const again = await api().post('/api/rigs/rig-ok/burn-in').set('Authorization', `Bearer ${admin}`).send({});
    expect([again.status, again.body.message]).toEqual([
      409,
      `a burn-in of rig 'rig-ok' is already running (run ${started.body.id}, started ${started.body.startedAt})`,
    ]);
    // Progress is stored as checks start: the CPU check is seen running, with the others pending.
    const during = await until(
      () => runs('rig-ok'),
      (r) => r[0].progress.current === 'cpu',
      20_000,
      100,
    );
    expect(during[0].checks.map((c) => c.status)).toEqual(['running', 'pending', 'pending', 'pending', 'pending']);

    const [run] = await finished('rig-ok');
    expect([run.status, run.reason, run.progress]).toEqual(['passed', '', { done: 5, total: 5, current: null }]);
    const check = (name: string) => run.checks.find((c) => c.name === name)!;
    expect(check('cpu')).toMatchObject({ status: 'passed', figures: { workers: NCPU, mismatches: 0 } });
    expect(check('cpu').figures.ops).toBeGreaterThan(0);
    expect(check('cpu').figures.opsPerSecond).toBeGreaterThan(0);
    expect(check('cpu').figures.seconds).toBeGreaterThanOrEqual(2);
    expect(check('cpu').detail).toMatch(
      new RegExp(`^${NCPU} workers hashed the same 4 MiB \\d+ times in .* every sum agreed$`),
    );
    expect(check('memory')).toMatchObject({ status: 'passed', figures: { mib: 16, mismatches: 0 } });
    expect(check('memory').figures.writeMiBps).toBeGreaterThan(0);
    expect(check('memory').figures.verifyMiBps).toBeGreaterThan(0);
    expect(check('disk')).toMatchObject({ status: 'passed', figures: { mib: 16, checksumMatch: 1 } });
    expect(check('disk').figures.writeMBps).toBeGreaterThan(0);
    expect(check('disk').figures.readMBps).toBeGreaterThan(0);
    expect(check('gpu:0')).toMatchObject({
      status: 'passed',
      detail: `opened /tmp/riglab-burnin-gpu0-${process.pid} for reading and writing inside a container`,
      figures: { devices: 1, opened: 1 },
    });
    expect(check('gpu:1')).toMatchObject({
      status: 'not-available',
      detail: expect.stringMatching(/^the rig's engine has no NVIDIA runtime \(runtimes: .*runc.*\)$/),
    });
    for (const c of run.checks) expect(Date.parse(c.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(c.startedAt!));
    console.log(
      `burn-in figures: ${run.checks.map((c) => `${c.name} ${JSON.stringify(c.figures)}`).join('; ')}; ` +
        `run took ${(Date.parse(run.finishedAt!) - Date.parse(run.startedAt)) / 1000} s`,
    );

    expect(await leftovers(rig.id)).toEqual({ containers: 0, volumes: 0 });
    // The verdict is written to the rig just after the run ends.
    const now = await until(
      () => f.db.ds.getRepository(Rig).findOneByOrFail({ id: rig.id }),
      (r) => r.state !== 'burn-in',
      15_000,
      100,
    );
    expect(now.state).toBe('active');
    expect(await events(rig.id)).toEqual([
      ['maintenance', 'burn-in', 'ada', 'fan replaced'],
      [
        'burn-in',
        'active',
        'rule:burn-in',
        `burn-in run ${run.id} passed (cpu, memory, disk, gpu:0; not available: gpu:1)`,
      ],
    ]);
    const latest = await api().get('/api/rigs/burn-in/latest').set('Authorization', `Bearer ${admin}`);
    expect(latest.body.find((r: BurnInRunView) => r.rig === 'rig-ok')).toEqual(run);
    expect((await api().get('/metrics')).text).toMatch(/^riglab_burn_in_runs_total\{result="passed"\} [1-9]/m);
  });

  it('refuses bad requests with a clear error and starts nothing', async () => {
    await newRig(f.db.ds, 'rig-busy', env.dockerHost);
    const post = (rig: string, body: object) =>
      api().post(`/api/rigs/${rig}/burn-in`).set('Authorization', `Bearer ${admin}`).send(body);
    const active = await post('rig-busy', { reason: 'why not' });
    expect([active.status, active.body.message]).toEqual([
      400,
      expect.stringMatching(/^rig 'rig-busy' not changed: a rig cannot go from active to burn-in/),
    ]);
    const empty = await post('rig-busy', { reason: '' });
    expect([empty.status, empty.body.message]).toEqual([400, 'reason must be longer than or equal to 1 characters']);
    expect((await post('nope', {})).body).toMatchObject({
      code: 'rig.not_found',
      message: "rig 'nope' does not exist",
    });
    expect((await api().get('/api/rigs/nope/burn-in').set('Authorization', `Bearer ${admin}`)).status).toBe(404);
    expect(await runs('rig-busy')).toEqual([]);
  });

  it('fails a rig whose engine goes away mid-run, holds it in maintenance with the reason, and places no lab there', async () => {
    const relay = new Relay(`/tmp/riglab-burnin-relay-${process.pid}.sock`, env.dockerHost.replace('unix://', ''));
    await relay.open();
    try {
      const rig = await newRig(f.db.ds, 'rig-flaky', `unix://${relay.path}`, { state: 'maintenance' });
      const started = await api()
        .post('/api/rigs/rig-flaky/burn-in')
        .set('Authorization', `Bearer ${admin}`)
        .send({ reason: 'riser reseated' });
      expect(started.status).toBe(202);
      await until(
        () => runs('rig-flaky'),
        (r) => r[0].progress.current === 'cpu',
        20_000,
        100,
      );
      // The rig drops off the network while its CPUs are busy (the check's container is running).
      await until(
        () =>
          engine.listContainers({
            filters: JSON.stringify({
              label: [`org.riglab.rig=${rig.id}`, 'org.riglab.burn-in.check=cpu'],
              status: ['running'],
            }),
          }),
        (c) => c.length === 1,
        20_000,
        50,
      );
      await relay.close();
      const [run] = await finished('rig-flaky');
      expect(run.status).toBe('failed');
      expect(run.reason).toMatch(
        /^burn-in failed: cpu: the rig's engine failed while waiting for the check to finish: /,
      );
      expect(run.checks.map((c) => [c.name, c.status])).toEqual([
        ['cpu', 'failed'],
        ['memory', 'failed'],
        ['disk', 'failed'],
        ['gpu', 'not-available'],
      ]);
      expect(run.checks[1].detail).toMatch(/^the rig's engine failed while creating the check container: /);
      const held = await f.db.ds.getRepository(Rig).findOneByOrFail({ id: rig.id });
      expect([held.state, held.stateReason]).toEqual(['maintenance', run.reason]);
      expect((await events(rig.id)).at(-1)).toEqual(['burn-in', 'maintenance', 'rule:burn-in', run.reason]);

      // The engine is back, but the rig stays out of the pool: a launch is not placed there.
      await relay.open();
      // Every other rig out of the pool too (earlier tests' runs may have put theirs back in by now).
      await f.db.ds.getRepository(Rig).update({ id: Not(rig.id) }, { state: 'maintenance' });
      const course = await newCourse(f.db.ds);
      const template = await newTemplate(f.db.ds, course);
      const student = await newUser(f.db.ds, 'sam');
      await enroll(f.db.ds, student, course);
      const token = await tokenFor(f.portal, student);
      const launched = await api()
        .post('/api/labs')
        .set('Authorization', `Bearer ${token}`)
        .send({ templateId: template.id });
      expect(launched.status).toBe(202);
      const lab = await f.db.ds.getRepository(LabSession).findOneByOrFail({ id: launched.body.id });
      expect(lab.rigId).toBeNull();
      await api().delete(`/api/labs/${lab.id}`).set('Authorization', `Bearer ${token}`);
    } finally {
      await relay.close();
    }
  });

  it('cancels the run when an admin takes the rig out of burn-in, and keeps their decision', async () => {
    const rig = await newRig(f.db.ds, 'rig-cancel', env.dockerHost, { state: 'maintenance' });
    await api().post('/api/rigs/rig-cancel/burn-in').set('Authorization', `Bearer ${admin}`).send({ reason: 'try' });
    await until(
      () => runs('rig-cancel'),
      (r) => r[0].progress.current === 'cpu',
      20_000,
      100,
    );
    const moved = await api()
      .post('/api/rigs/rig-cancel/state')
      .set('Authorization', `Bearer ${admin}`)
      .send({ to: 'maintenance', reason: 'smell of smoke' });
    expect(moved.body.state).toBe('maintenance');
    const [run] = await runs('rig-cancel');
    expect([run.status, run.reason]).toEqual([
      'cancelled',
      'cancelled: the rig was moved to maintenance by ada (smell of smoke)',
    ]);
    expect(run.checks[0]).toMatchObject({ name: 'cpu', status: 'failed', detail: run.reason });
    // The runner stops at the next check and moves nothing.
    await until(
      () => leftovers(rig.id),
      (l) => l.containers === 0,
      20_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    expect((await runs('rig-cancel'))[0]).toEqual(run);
    expect((await f.db.ds.getRepository(Rig).findOneByOrFail({ id: rig.id })).state).toBe('maintenance');
  });

  it('after a restart, cancels a run its stopped portal had begun, with the reason, and runs a new one', async () => {
    const rig = await newRig(f.db.ds, 'rig-restart', env.dockerHost, { state: 'burn-in' });
    // What a portal that stopped during the CPU check leaves: a begun run, and no lock held for it.
    const cut = await f.db.ds.getRepository(BurnInRun).save({
      rigId: rig.id,
      requestedBy: 'ada',
      claimedAt: new Date(Date.now() - 5000),
      checks: ['cpu', 'memory', 'disk', 'gpu'].map((name, i) => ({
        name,
        status: i === 0 ? ('running' as const) : ('pending' as const),
        detail: '',
        figures: {},
        startedAt: i === 0 ? new Date(Date.now() - 4000).toISOString() : null,
        finishedAt: null,
      })),
    });
    await f.portal.close();
    f.portal = await startPortal(f.portal.config);
    const after = await until(
      () => runs('rig-restart'),
      // Both settled: the interrupted one cancelled, the new one through all its checks.
      (r) => r.length === 2 && r.every((x) => x.status !== 'running'),
      // A whole run after a restart: slow when the rest of the suite shares the two cores.
      150_000,
      250,
    );
    const old = after.find((r) => r.id === cut.id)!;
    const why = 'interrupted: the portal stopped while the cpu check was running';
    expect([old.status, old.reason]).toEqual(['cancelled', `${why}; a new run replaces it`]);
    expect(old.checks[0]).toMatchObject({ status: 'failed', detail: `${why}; a new run replaces it` });
    const fresh = after.find((r) => r.id !== cut.id)!;
    expect(fresh.status).toBe('passed');
    // The verdict is written to the rig just after the run ends.
    const verdict = await until(
      () => f.db.ds.getRepository(Rig).findOneByOrFail({ id: rig.id }),
      (r) => r.state !== 'burn-in',
      15_000,
      100,
    );
    expect(verdict.state).toBe('active');
  }, 200_000);

  it('runs burn-in from the CLI, follows it with --wait, and shows the results', async () => {
    await newRig(f.db.ds, 'rig-cli', env.dockerHost, { state: 'maintenance' });
    const cli = riglab(f.db.url, 'rig', 'burn-in', 'rig-cli', '--reason', 'new PSU', '--wait');
    let out = '';
    let err = '';
    cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => cli.on('exit', r));
    await until(
      async () => out,
      (o) => o.includes('\n'),
      30_000,
      100,
    );
    expect(out.split('\n')[0]).toMatch(
      /^rig rig-cli is burn-in; burn-in run [0-9a-f-]{36} started \(cpu, memory, disk, gpu\); a portal picks it up within \d+ s$/,
    );
    // The CLI has no job queue: the portal's sweep finds the run it recorded.
    expect(await f.portal.app.get(BurnInService).sweep()).toMatchObject({ executed: 1 });
    expect([await exited, err]).toEqual([0, '']);
    const lines = out.trim().split('\n');
    expect(lines.slice(1).map((l) => l.trim().split(/\s+/).slice(0, 2))).toEqual([
      ['cpu', 'passed'],
      ['memory', 'passed'],
      ['disk', 'passed'],
      ['gpu', 'not-available'],
      ['burn-in', 'passed:'],
    ]);
    expect(lines.at(-1)).toBe('burn-in passed: rig rig-cli is active');

    const results = await new Promise<string>((resolve) => {
      const c = riglab(f.db.url, 'rig', 'burn-in-results', 'rig-cli', '--json');
      let s = '';
      c.stdout.on('data', (d: Buffer) => (s += d.toString()));
      c.on('exit', () => resolve(s));
    });
    expect(JSON.parse(results)).toEqual(await runs('rig-cli'));
  });

  it('kills a check that runs past its time budget and fails it with that reason, leaving no container', async () => {
    const runner = new BurnInRunner({ deployment: f.deployment });
    const rig = {
      id: 'rig-budget',
      name: 'budget',
      endpoint: { url: env.dockerHost },
      reach: { mode: 'bridge' as const },
    };
    const { results } = await runner.run(
      rig,
      { cpuSeconds: 5, memoryMb: 16, diskMb: 16, gpuImage: null, checkTimeoutMs: 1500 },
      [],
      'budget-run',
    );
    expect(results[0]).toMatchObject({
      name: 'cpu',
      status: 'failed',
      detail: 'did not finish within its time budget of 1.5 s and was killed',
    });
    expect(results.slice(1).map((r) => r.status)).toEqual(['passed', 'passed', 'not-available']);
    expect(await leftovers('rig-budget')).toEqual({ containers: 0, volumes: 0 });
  });
});

/** A relay in front of the real engine's socket that the test can take away (the rig drops off) and bring back. */
class Relay {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  constructor(
    readonly path: string,
    private readonly upstream: string,
  ) {}

  async open(): Promise<void> {
    rmSync(this.path, { force: true });
    this.server = net.createServer((client) => {
      const up = net.connect(this.upstream);
      for (const s of [client, up]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(up);
      up.pipe(client);
      client.on('close', () => up.destroy());
      up.on('close', () => client.destroy());
    });
    await new Promise<void>((r) => this.server!.listen(this.path, r));
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise((r) => server.close(r));
    rmSync(this.path, { force: true });
  }
}
