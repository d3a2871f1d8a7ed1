import { ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { connect, createServer, Server, Socket } from 'node:net';
import { join } from 'node:path';
import request from 'supertest';
import { LabSession } from '../../api/src/modules/labs/lab-session.entity';
import { LedgerService } from '../../api/src/modules/ledger/ledger.service';
import { User } from '../../api/src/modules/users/user.entity';
import { freePort, migratedDatabase, startPortal, testConfig } from '../support/app';
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
import { env, ROOT } from '../support/services';

// The portal crashes (SIGKILL, no shutdown of any kind) in the middle of a class start, and two
// portal processes share one address. Each test prints what it measured.

const MAIN = join(ROOT, 'dist', 'api', 'src', 'main.js');
const AT_REST = ['ready', 'failed', 'queued', 'stopped'];
const live: ChildProcess[] = [];
afterAll(() => live.forEach((c) => c.exitCode === null && c.signalCode === null && c.kill('SIGKILL')));

interface Proc {
  url: string;
  port: number;
  proc: ChildProcess;
}

/** The portal as `npm start` runs it, in a process of its own that can be killed like a crashed server. */
async function portalProcess(vars: Record<string, string>): Promise<Proc> {
  const port = await freePort();
  const log = process.env.RIGLAB_TEST_CHILD_LOG;
  const proc = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH,
      RIGLAB_ENV_FILE: '',
      LOG_LEVEL: log ? 'info' : 'warn',
      PORT: String(port),
      HOST: '127.0.0.1',
      ...vars,
    },
    stdio: log ? ['ignore', openSync(log, 'a'), openSync(log, 'a')] : 'ignore',
  });
  live.push(proc);
  const url = `http://127.0.0.1:${port}`;
  const up = await until(
    () =>
      fetch(`${url}/api/health`).then(
        (r) => r.status,
        () => 0,
      ),
    (s) => s === 200,
    60_000,
    200,
  );
  expect(up).toBe(200);
  return { url, port, proc };
}

function killHard(p: Proc): Promise<void> {
  return new Promise((resolve) => {
    if (p.proc.exitCode !== null || p.proc.signalCode !== null) return resolve();
    p.proc.once('exit', () => resolve());
    p.proc.kill('SIGKILL');
  });
}

/**
 * One address in front of several portals, as a load balancer in TCP mode: connections go round
 * robin, and one whose portal does not answer goes to the next.
 */
class Balancer {
  private server?: Server;
  private next = 0;
  private readonly open = new Set<Socket>();
  port = 0;
  constructor(private readonly ports: number[]) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((client) => {
      this.open.add(client);
      client.once('close', () => this.open.delete(client));
      this.relay(client, 0);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }

  private relay(client: Socket, tries: number): void {
    const port = this.ports[this.next++ % this.ports.length];
    const upstream = connect(port, '127.0.0.1');
    const refused = () => {
      if (tries + 1 < this.ports.length) this.relay(client, tries + 1);
      else client.destroy();
    };
    upstream.once('error', refused);
    upstream.once('connect', () => {
      upstream.off('error', refused);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
  }

  async close(): Promise<void> {
    // Keep-alive connections would hold close() open: a balancer going away drops them.
    for (const c of this.open) c.destroy();
    await new Promise((r) => this.server?.close(r));
  }
}

describe('faults: the portal crashes during a class start; two portals share one address', () => {
  const deployment = randomDeployment();
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let vars: Record<string, string>;
  let templateId: string;
  const tokens = new Map<string, string>();
  let students: User[] = [];

  beforeAll(async () => {
    db = await migratedDatabase();
    vars = {
      DATABASE_URL: db.url,
      REDIS_URL: env.redisUrl,
      SESSION_SECRET: 'c'.repeat(40),
      DEPLOYMENT_ID: deployment,
      LAUNCH_TIMEOUT_S: '120',
      // A class start: every launch is taken at once (the portal-wide cap has its own test).
      LAUNCH_CONCURRENCY: '200',
      RECONCILE_INTERVAL_S: '5',
      LOST_GRACE_S: '0',
      CULL_INTERVAL_S: '3600',
      TELEMETRY_PROBE_INTERVAL_S: '86400',
    };
    const course = await newCourse(db.ds);
    const template = await newTemplate(db.ds, course, { memoryMb: 256 });
    templateId = template.id;
    await newRig(db.ds, 'rig-local', env.dockerHost, { cpuMillis: 64000, memoryMb: 65536 });
    students = await Promise.all(Array.from({ length: 74 }, (_, i) => newUser(db.ds, `c${i}`)));
    // Tokens are made through an in-process portal on the same database that runs no jobs.
    const helper = await startPortal(
      testConfig({ DATABASE_URL: db.url, DEPLOYMENT_ID: deployment, RUN_WORKERS: 'false' }),
    );
    for (const s of students) {
      await enroll(db.ds, s, course);
      tokens.set(s.id, await tokenFor(helper, s));
    }
    await helper.close();
  }, 180_000);

  afterAll(async () => {
    await cleanEngine(env.dockerHost, deployment);
    await db?.drop();
  }, 120_000);

  const launch = (url: string, s: User) =>
    request(url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${tokens.get(s.id)}`)
      .timeout(30_000)
      .send({ templateId })
      .then(
        (r) => r.status,
        () => 0,
      );

  const sessionsOf = (users: User[]) =>
    db.ds.getRepository(LabSession).find({ where: users.map((u) => ({ userId: u.id })) });

  const tally = (all: LabSession[]) =>
    Object.entries(all.reduce<Record<string, number>>((acc, s) => ({ ...acc, [s.state]: (acc[s.state] ?? 0) + 1 }), {}))
      .map(([state, n]) => `${n} ${state}`)
      .join(', ');

  /** Every container belongs to a ready lab, one each; no ready lab without its container. */
  async function oneContainerPerReadyLab(): Promise<number> {
    const ready = (await db.ds.getRepository(LabSession).find({ where: { state: 'ready' } })).map((s) => s.id).sort();
    const containers = await until(
      () => containersOf(env.dockerHost, deployment),
      (c) => c.length === ready.length,
      30_000,
      500,
    );
    const owners = containers.map((c) => c.Labels['org.riglab.session']).sort();
    const orphans = owners.filter((o) => !ready.includes(o)).length;
    console.log(`containers: ${containers.length} for ${ready.length} ready labs; ${orphans} orphans`);
    expect(owners).toEqual(ready);
    return orphans;
  }

  it('SIGKILL during a 50-launch burst: after a restart every launch is ready, failed or queued with a reason, 0 orphans, ledger verifies', async () => {
    const burst = students.slice(0, 50);
    const first = await portalProcess(vars);
    const t0 = Date.now();
    const codes = await Promise.all(burst.map((s) => launch(first.url, s)));
    expect(codes.filter((c) => c !== 202)).toEqual([]);
    // Kill it while launches are in flight: some ready, some starting, most still queued.
    await until(
      () => db.ds.getRepository(LabSession).count({ where: { state: 'ready' } }),
      (n) => n >= 3,
      120_000,
      100,
    );
    await killHard(first);
    const atKill = await sessionsOf(burst);
    console.log(`killed after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${tally(atKill)}`);
    expect(atKill.some((s) => !AT_REST.includes(s.state) || s.state === 'queued')).toBe(true);

    const restart = Date.now();
    const second = await portalProcess(vars);
    try {
      const settled = await until(
        () => sessionsOf(burst),
        (all) => all.every((s) => ['ready', 'failed'].includes(s.state) || (s.state === 'queued' && !!s.stateReason)),
        180_000,
        500,
      );
      const tookS = (Date.now() - restart) / 1000;
      console.log(`settled ${tookS.toFixed(1)} s after the restart: ${tally(settled)}`);
      expect(settled.filter((s) => !['ready', 'failed', 'queued'].includes(s.state))).toEqual([]);
      for (const s of settled.filter((x) => x.state !== 'ready')) expect(s.stateReason).not.toBe('');
      for (const s of settled.filter((x) => x.state !== 'ready')) console.log(`${s.state}: ${s.stateReason}`);
      // One rig with room for all: nothing needed to wait, and the crash made no more than a few fail.
      expect(settled.filter((s) => s.state === 'ready').length).toBeGreaterThanOrEqual(burst.length - 3);
      // Within the 60 s on a quiet machine; generous here for a loaded CI machine.
      expect(tookS).toBeLessThan(150);

      expect(await oneContainerPerReadyLab()).toBe(0);
      // No slot or reservation held by a lab that is not running.
      const held: Array<{ n: number }> = await db.ds.query(
        `SELECT count(*)::int AS n FROM gpu_slots g LEFT JOIN lab_sessions s ON s.id = g.session_id
          WHERE g.session_id IS NOT NULL AND (s.id IS NULL OR s.state NOT IN ('ready', 'starting', 'placing', 'stopping'))`,
      );
      expect(held).toEqual([{ n: 0 }]);

      const helper = await startPortal(
        testConfig({ DATABASE_URL: db.url, DEPLOYMENT_ID: deployment, RUN_WORKERS: 'false' }),
      );
      const report = await helper.app.get(LedgerService).verify();
      await helper.close();
      console.log(`ledger: ${report.entries} entries, ok ${report.ok}`);
      expect(report.ok).toBe(true);

      // Stopped, the burst frees the rig for the next test.
      await Promise.all(
        settled
          .filter((s) => s.state === 'ready')
          .map((s) =>
            request(second.url)
              .delete(`/api/labs/${s.id}`)
              .set('Authorization', `Bearer ${tokens.get(s.userId)}`)
              .timeout(30_000)
              .catch(() => undefined),
          ),
      );
      const left = await until(
        () => containersOf(env.dockerHost, deployment),
        (c) => c.length === 0,
        120_000,
        1000,
      );
      expect(left).toHaveLength(0);
    } finally {
      await killHard(second);
    }
  }, 600_000);

  it('two portal processes behind one address share launches, jobs and the proxy with no double work; killing one loses nothing', async () => {
    const [a, b] = [await portalProcess(vars), await portalProcess(vars)];
    const lb = new Balancer([a.port, b.port]);
    await lb.start();
    try {
      const phase1 = students.slice(50, 66);
      const t0 = Date.now();
      const codes = await Promise.all(phase1.map((s) => launch(lb.url, s)));
      expect(codes.filter((c) => c !== 202)).toEqual([]);
      const ready1 = await until(
        () => sessionsOf(phase1),
        (all) => all.every((s) => ['ready', 'failed'].includes(s.state)),
        180_000,
        500,
      );
      console.log(`two processes: ${tally(ready1)} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      expect(ready1.filter((s) => s.state === 'ready')).toHaveLength(phase1.length);

      // Both processes started labs; together exactly one start per lab (each counts only the labs it made ready).
      const started = async (p: Proc) =>
        Number(
          /^riglab_server_spawn_duration_seconds_count\{status="success"\} (\d+)/m.exec(
            await (await fetch(`${p.url}/metrics`)).text(),
          )?.[1] ?? 0,
        );
      const [byA, byB] = [await started(a), await started(b)];
      console.log(`launches made ready by process A: ${byA}, by B: ${byB}`);
      expect(byA + byB).toBe(phase1.length);
      expect(byA).toBeGreaterThan(0);
      expect(byB).toBeGreaterThan(0);
      expect(await oneContainerPerReadyLab()).toBe(0);

      // The proxy answers through either process: every student reaches their own lab, three times.
      let ok = 0;
      for (const s of ready1)
        for (let i = 0; i < 3; i++) {
          const r = await request(lb.url)
            .get(`/user/${phase1.find((u) => u.id === s.userId)!.username}/${s.name}/api/status`)
            .set('Authorization', `Bearer ${tokens.get(s.userId)}`)
            .timeout(30_000);
          if (r.status === 200) ok++;
        }
      console.log(`proxied through the shared address: ${ok}/${ready1.length * 3} OK`);
      expect(ok).toBe(ready1.length * 3);

      // Kill one while a second burst is in flight: the other finishes every launch.
      const phase2 = students.slice(66, 74);
      const codes2 = await Promise.all(phase2.map((s) => launch(lb.url, s)));
      expect(codes2.filter((c) => c !== 202)).toEqual([]);
      await until(
        () => db.ds.getRepository(LabSession).count({ where: { state: 'starting' } }),
        (n) => n > 0,
        60_000,
        100,
      );
      const killedAt = Date.now();
      await killHard(a);
      const rest = await until(
        () => sessionsOf(phase2),
        (all) => all.every((s) => ['ready', 'failed'].includes(s.state)),
        180_000,
        500,
      );
      console.log(
        `one process killed: the other settled the in-flight burst in ${((Date.now() - killedAt) / 1000).toFixed(1)} s: ${tally(rest)}`,
      );
      expect(rest.filter((s) => s.state === 'ready')).toHaveLength(phase2.length);
      expect(await oneContainerPerReadyLab()).toBe(0);
      // The address still answers, through the survivor.
      // (A connection that went to the killed process is dropped with it; a new one reaches the survivor.)
      const health = await request(lb.url).get('/api/health').set('Connection', 'close').timeout(10_000);
      expect(health.status).toBe(200);
    } finally {
      await lb.close();
      await killHard(a);
      await killHard(b);
    }
  }, 480_000);
});
