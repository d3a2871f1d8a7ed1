import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { AuditEvent } from '../../api/src/modules/audit/audit-event.entity';
import { RigHealthService } from '../../api/src/modules/rig-health/rig-health.service';
import { Gpu, Rig, RigEvent } from '../../api/src/modules/rigs/rig.entity';
import { RigsService } from '../../api/src/modules/rigs/rigs.service';
import { TelemetryProbeService } from '../../api/src/modules/telemetry/telemetry-probe.service';
import { migratedDatabase, startPortal, testConfig, type TestPortal } from '../support/app';
import { newUser, tokenFor } from '../support/labs';
import { env } from '../support/services';

// Registering rigs (issue 9): the connection test, inventory discovered through the real local
// engine and stored, refusal of an engine that does not answer, offline registration completed
// later, and the board's fields and alerts from real telemetry samples and health rules.

const MIB = 1024 * 1024;
const socketPath = (url: string) => url.replace(/^unix:\/\//, '');

/** What the docker CLI itself says about the engine. */
function dockerInfo(): { ServerVersion: string; NCPU: number; MemTotal: number; DockerRootDir: string } {
  return JSON.parse(
    execFileSync('docker', ['-H', env.dockerHost, 'info', '--format', '{{json .}}'], { encoding: 'utf8' }),
  );
}

/** `df` of a directory on this host, MiB (the local engine's data root is on this machine). */
function dfMb(dir: string): { totalMb: number; freeMb: number } {
  const [, line] = execFileSync('df', ['-Pk', dir], { encoding: 'utf8' }).trim().split('\n');
  const [, total, , avail] = line.split(/\s+/);
  return { totalMb: Math.floor(Number(total) / 1024), freeMb: Math.floor(Number(avail) / 1024) };
}

describe('registering a rig: connection test and inventory discovery', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let portal: TestPortal;
  let admin: string;
  const gone = join(tmpdir(), `riglab-no-engine-${process.pid}.sock`);
  let forwarder: Server | undefined;

  const post = (path: string, body: object) =>
    request(portal.url).post(path).set('Authorization', `Bearer ${admin}`).send(body);
  const get = (path: string) => request(portal.url).get(path).set('Authorization', `Bearer ${admin}`);

  beforeAll(async () => {
    db = await migratedDatabase();
    portal = await startPortal(
      testConfig({
        DATABASE_URL: db.url,
        RECONCILE_INTERVAL_S: '3600',
        // The periodic engine probe stays out of the way of the "not seen" check below.
        RIG_PROBE_INTERVAL_S: '3600',
        RIG_RESERVE_CPUS: '1',
        RIG_RESERVE_MEMORY_MB: '512',
        // Every real disk is "nearly full" at 100 %: the disk alert and rule fire from a real sample.
        RIG_DISK_MIN_FREE_PERCENT: '100',
      }),
    );
    admin = await tokenFor(portal, await newUser(db.ds, 'ada', 'admin'), ['read', 'rigs:admin']);
  });
  afterAll(async () => {
    await new Promise((r) => (forwarder ? forwarder.close(r) : r(undefined)));
    rmSync(gone, { force: true });
    await portal?.close();
    await db?.drop();
  });

  it("stores CPUs, memory, disk and Docker version as the engine reports them, registers no GPUs where there are none, and starts in 'registered'", async () => {
    const res = await post('/api/rigs', { name: 'rig-local', endpoint: env.dockerHost });
    expect(res.status).toBe(201);
    const info = dockerInfo();
    const memMb = Math.floor(info.MemTotal / MIB);
    expect(res.body).toMatchObject({
      name: 'rig-local',
      state: 'registered',
      engineVersion: info.ServerVersion,
      connection: { ok: true, endpoint: env.dockerHost, version: info.ServerVersion, error: null },
      // What labs get: what was found less the host reserve (1 CPU, 512 MiB here).
      cpus: Math.max(1, info.NCPU - 1),
      memoryMb: memMb - 512,
      driver: 'none',
      gpusAdded: [],
      inventory: {
        cpus: info.NCPU,
        memoryMb: memMb,
        engine: { version: info.ServerVersion, dockerRootDir: info.DockerRootDir },
        gpus: [],
      },
    });
    expect(res.body.stateReason).toBe(
      `registered: engine answered (Docker ${info.ServerVersion}), ${info.NCPU} CPUs, ${memMb} MiB, 0 GPU(s) found`,
    );
    // Disk as the probe measured it on the engine's data root: the same filesystem df sees here.
    const df = dfMb(join(info.DockerRootDir, 'tmp'));
    expect(res.body.inventory.diskTotalMb).toBeGreaterThanOrEqual(df.totalMb - 1);
    expect(res.body.inventory.diskTotalMb).toBeLessThanOrEqual(df.totalMb + 1);
    expect(Math.abs(res.body.inventory.diskFreeMb - df.freeMb)).toBeLessThan(2048);
    // No GPU on this machine: the probe says why, and no GPU rows are made.
    expect(res.body.inventory.notAvailable).toEqual(
      expect.arrayContaining([expect.objectContaining({ source: 'nvidia-smi' })]),
    );

    const row = await db.ds.getRepository(Rig).findOneByOrFail({ name: 'rig-local' });
    expect([row.state, row.inventory?.cpus, row.inventoryAt instanceof Date, row.capacityGiven]).toEqual([
      'registered',
      info.NCPU,
      true,
      [],
    ]);
    expect(await db.ds.getRepository(Gpu).count({ where: { rigId: row.id } })).toBe(0);
    expect(await db.ds.getRepository(RigEvent).find({ where: { rigId: row.id } })).toEqual([
      expect.objectContaining({ fromState: null, toState: 'registered', actor: 'ada' }),
    ]);
    const audit = await db.ds.getRepository(AuditEvent).findOneByOrFail({ action: 'rig.add', targetId: 'rig-local' });
    expect(audit).toMatchObject({
      actor: 'ada',
      detail: { offline: false, connection: `Docker ${info.ServerVersion}` },
    });
  });

  it('refuses an engine that does not answer, naming the endpoint and what failed, and stores nothing', async () => {
    const endpoint = `unix://${gone}`;
    const res = await post('/api/rigs', { name: 'rig-gone', endpoint, cpus: 4 });
    expect([res.status, res.body.code, res.body.message]).toEqual([
      400,
      'rig.unreachable',
      `rig 'rig-gone' not registered: the Docker engine at ${endpoint} did not answer: socket not found (is the Docker engine running?) (to register it anyway and test it later: --offline, or offline: true in the API)`,
    ]);
    expect(await db.ds.getRepository(Rig).exist({ where: { name: 'rig-gone' } })).toBe(false);
    expect(await db.ds.getRepository(AuditEvent).exist({ where: { targetId: 'rig-gone' } })).toBe(false);

    const badTls = await post('/api/rigs', {
      name: 'rig-tls',
      endpoint: 'tcp://10.0.0.7:2376',
      tls: { ca: 'rig-tls/ca.pem', cert: 'rig-tls/cert.pem', key: 'rig-tls/key.pem' },
    });
    expect([badTls.status, badTls.body.code]).toEqual([400, 'rig.bad_endpoint']);
    expect(badTls.body.message).toMatch(/^TLS ca file .*rig-tls\/ca\.pem does not exist on the portal host$/);
    expect(await db.ds.getRepository(Rig).exist({ where: { name: 'rig-tls' } })).toBe(false);
  });

  it('registers offline with the reason, refuses to re-discover while the engine is away, and completes the inventory once it answers', async () => {
    const endpoint = `unix://${gone}`;
    const res = await post('/api/rigs', { name: 'rig-gone', endpoint, offline: true, memoryMb: 2048 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      state: 'registered',
      inventory: null,
      lastSeenAt: null,
      connection: { ok: false, error: 'socket not found (is the Docker engine running?)' },
    });
    expect(res.body.stateReason).toBe(
      `registered offline: the engine at ${endpoint} did not answer (socket not found (is the Docker engine running?)); run riglab rig inventory rig-gone once it does`,
    );

    const away = await post('/api/rigs/rig-gone/inventory', {});
    expect([away.status, away.body.code]).toEqual([400, 'rig.unreachable']);
    expect(away.body.message).toMatch(
      /^rig 'rig-gone' not re-discovered: the Docker engine at unix:\/\/.* did not answer/,
    );
    expect((await db.ds.getRepository(Rig).findOneByOrFail({ name: 'rig-gone' })).inventory).toBeNull();

    // The engine "comes up" at that address: a plain socket forwarder to the real local engine.
    forwarder = createServer((c) => {
      const up = connect(socketPath(env.dockerHost));
      c.pipe(up).pipe(c);
      const end = () => (c.destroy(), up.destroy());
      c.on('error', end);
      up.on('error', end);
    });
    await new Promise<void>((r) => forwarder!.listen(gone, r));
    const found = await post('/api/rigs/rig-gone/inventory', {});
    expect(found.status).toBe(200);
    const info = dockerInfo();
    expect(found.body).toMatchObject({
      state: 'registered',
      connection: { ok: true, version: info.ServerVersion },
      inventory: { cpus: info.NCPU, memoryMb: Math.floor(info.MemTotal / MIB) },
      // CPUs were not given, so they follow what was found; the memory the admin gave stays.
      cpus: Math.max(1, info.NCPU - 1),
      memoryMb: 2048,
      gpusAdded: [],
      gpusMissing: [],
    });
    expect(found.body.lastSeenAt).not.toBeNull();
    expect(
      await db.ds.getRepository(AuditEvent).exist({ where: { action: 'rig.inventory', targetId: 'rig-gone' } }),
    ).toBe(true);
  });

  it('shows on the board the latest telemetry, slots, a quarantined GPU, a failing probe, a stale engine and a rule drain as alerts', async () => {
    const rigs = portal.app.get(RigsService);
    // A device GPU registered by hand (this machine has none) so that a health rule has one to quarantine.
    await rigs.addGpu('rig-local', {
      index: 0,
      model: 'GTX 1070',
      vramMb: 8192,
      deviceIds: ['/dev/null'],
      driver: 'devices',
    });
    expect((await post('/api/rigs/rig-local/state', { to: 'active', reason: 'board test' })).status).toBe(200);
    // The forwarder goes away: rig-gone's probe fails from now on.
    await new Promise((r) => forwarder!.close(r));
    forwarder = undefined;
    rmSync(gone, { force: true });

    // One real round of the telemetry probe: rig-local is sampled (and drained by the disk rule at 100 %),
    // rig-gone's probe fails.
    expect(await portal.app.get(TelemetryProbeService).probeAll()).toEqual({ probed: 1, failed: 1 });
    const [{ sample }] = await db.ds.query(
      `SELECT sample FROM rig_samples s JOIN rigs r ON r.id = s.rig_id WHERE r.name = 'rig-local' ORDER BY at DESC LIMIT 1`,
    );
    // An Xid 79 (GPU fallen off the bus) reported for GPU 0: the rule quarantines it.
    const local = await db.ds.getRepository(Rig).findOneByOrFail({ name: 'rig-local' });
    await portal.app.get(RigHealthService).ingest(local.id, {
      ...sample,
      gpus: [
        {
          index: 0,
          id: 'GPU-0',
          model: 'GTX 1070',
          driver: 'nvidia',
          driverVersion: null,
          pciBusId: null,
          temperatureC: 64,
          fanPercent: 40,
          fanRpm: null,
          powerW: 80,
          powerLimitW: 151,
          memoryUsedMb: 100,
          memoryTotalMb: 8192,
          utilizationPercent: 90,
          smClockMhz: 1500,
          memoryClockMhz: 4000,
          throttleReasons: [],
          pcieGen: 3,
          pcieGenMax: 3,
          pcieWidth: 16,
          pcieWidthMax: 16,
          pcieReplays: 0,
          xids: [79],
        },
      ],
    });

    const one = await get('/api/rigs/rig-local');
    expect(one.status).toBe(200);
    const pct = ((100 * sample.diskFreeMb) / sample.diskTotalMb).toFixed(1);
    expect(one.body).toMatchObject({
      name: 'rig-local',
      state: 'draining',
      load1: sample.load1,
      cpusSeen: sample.cpus,
      memoryAvailableMb: sample.memoryAvailableMb,
      memoryTotalMb: sample.memoryTotalMb,
      diskFreeMb: sample.diskFreeMb,
      diskTotalMb: sample.diskTotalMb,
      sampledAt: sample.at,
      slots: { used: 0, total: 1 },
      gpus: [
        {
          index: 0,
          model: 'GTX 1070',
          vramMb: 8192,
          driver: 'devices',
          healthy: false,
          healthReason: 'GPU 0 reported critical Xid error(s) 79',
          slots: { used: 0, total: 1 },
          // The stored sample has no GPU (this machine has none): no reading to show.
          temperatureC: null,
          pcieWidth: null,
          pcieWidthMax: null,
        },
      ],
    });
    expect(one.body.alerts).toEqual([
      { severity: 'critical', text: 'GPU 0 (GTX 1070) quarantined: GPU 0 reported critical Xid error(s) 79' },
      { severity: 'critical', text: `disk nearly full: ${pct}% free` },
      { severity: 'warning', text: expect.stringMatching(/^drained by rule:disk-full: /) },
    ]);

    // rig-gone: registered (not in service), its probe failing; its engine last seen a while ago.
    await db.ds.getRepository(Rig).update({ name: 'rig-gone' }, { lastSeenAt: new Date(Date.now() - 3 * 3600_000) });
    const board = await get('/api/rigs');
    expect(board.status).toBe(200);
    expect(board.body.map((r: { name: string }) => r.name)).toEqual(['rig-gone', 'rig-local']);
    expect(board.body[0]).toMatchObject({
      state: 'registered',
      load1: null,
      sampledAt: null,
      slots: { used: 0, total: 0 },
    });
    expect(board.body[0].alerts).toEqual([
      { severity: 'warning', text: 'engine not seen for 3 h' },
      { severity: 'warning', text: 'telemetry probe failing (1 in a row)' },
    ]);

    const audit = await get('/api/rigs/rig-local/audit');
    expect(audit.status).toBe(200);
    expect(audit.body.map((a: { action: string }) => a.action)).toEqual(
      expect.arrayContaining(['rig.add', 'rig.state', 'gpu.quarantine']),
    );
    expect((await get('/api/rigs/no-such-rig')).body.message).toBe("rig 'no-such-rig' does not exist");
  });

  it('refuses a rig named like a page of the portal', async () => {
    const res = await post('/api/rigs', { name: 'reliability', endpoint: env.dockerHost });
    expect([res.status, res.body.message]).toEqual([
      400,
      "rig name 'reliability' is reserved for the portal's own pages: choose another",
    ]);
  });
});
