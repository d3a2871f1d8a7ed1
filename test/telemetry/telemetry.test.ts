import request from 'supertest';
import type { GpuSample, RigSample } from '../../spawner/src/probes/sample';
import { TelemetryProbeService } from '../../api/src/modules/telemetry/telemetry-probe.service';
import { TelemetryService } from '../../api/src/modules/telemetry/telemetry.service';
import { migratedDatabase, startPortal, testConfig, TestPortal } from '../support/app';
import { newRig, newUser, tokenFor } from '../support/labs';
import { env } from '../support/services';

// Telemetry storage on real Postgres: raw samples, five-minute rollups, retention, series for charts,
// and the latest readings on /metrics under DCGM/node-exporter names.

const gpu = (index: number, over: Partial<GpuSample> = {}): GpuSample => ({
  index,
  id: `GPU-${index}`,
  model: 'GTX 1070',
  driver: 'nvidia',
  driverVersion: '535.183.01',
  pciBusId: `00000000:0${index + 1}:00.0`,
  temperatureC: 60,
  fanPercent: 40,
  fanRpm: null,
  powerW: 120,
  powerLimitW: 150,
  memoryUsedMb: 1000,
  memoryTotalMb: 8192,
  utilizationPercent: 50,
  smClockMhz: 1700,
  memoryClockMhz: 4000,
  throttleReasons: [],
  pcieGen: 1,
  pcieGenMax: 3,
  pcieWidth: 1,
  pcieWidthMax: 16,
  pcieReplays: 0,
  xids: [],
  ...over,
});

const sample = (at: Date, gpus: GpuSample[], over: Partial<RigSample> = {}): RigSample => ({
  at: at.toISOString(),
  load1: 0.5,
  cpus: 2,
  memoryTotalMb: 8000,
  memoryAvailableMb: 4000,
  diskTotalMb: 100_000,
  diskFreeMb: 50_000,
  gpus,
  sensors: [{ source: 'nct6775', label: 'SYSTIN', kind: 'temperature', value: 38, unit: '°C' }],
  notAvailable: [{ source: 'ipmitool', why: 'no BMC on this board' }],
  ...over,
});

describe('rig telemetry storage', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let portal: TestPortal;
  let telemetry: TelemetryService;
  let rigId: string;
  const now = new Date();
  const bucket = new Date(Math.floor(now.getTime() / 300_000) * 300_000 - 300_000); // the last complete bucket
  const at = (s: number) => new Date(bucket.getTime() + s * 1000);

  beforeAll(async () => {
    db = await migratedDatabase();
    portal = await startPortal(testConfig({ DATABASE_URL: db.url, RUN_WORKERS: 'false' }));
    telemetry = portal.app.get(TelemetryService);
    rigId = (await newRig(db.ds, 'rig-t', 'unix:///nowhere.sock')).id;
  });
  afterAll(async () => {
    await portal?.close();
    await db?.drop();
  });

  it('rolls complete five-minute buckets up from raw samples, once however often it runs, and expires old data', async () => {
    await telemetry.store(rigId, sample(at(10), [gpu(0, { temperatureC: 70 }), gpu(1, { fanPercent: null })]));
    await telemetry.store(rigId, sample(at(40), [gpu(0, { temperatureC: 80 }), gpu(1, { fanPercent: null })]));
    await telemetry.store(rigId, sample(at(70), [gpu(0, { temperatureC: 90 }), gpu(1, { fanPercent: null })]));
    // In the current bucket: not complete, so not rolled up yet.
    await telemetry.store(rigId, sample(new Date(now.getTime() - 1000), [gpu(0, { temperatureC: 99 })]));
    // Older than the raw retention (24 h), and a rollup older than 90 days.
    await telemetry.store(rigId, sample(new Date(now.getTime() - 25 * 3_600_000), [gpu(0)]));
    await db.ds.query(
      `INSERT INTO rig_sample_rollups (rig_id, bucket, series) VALUES ($1, now() - interval '91 days', '{"load1": [1, 1, 1, 1]}')`,
      [rigId],
    );

    const first = await telemetry.rollup(now);
    expect(first.rawDeleted).toBe(1);
    expect(first.rollupsDeleted).toBe(1);
    const rows = async () =>
      db.ds.query(
        `SELECT r.bucket, e.key AS series, (e.value->>0)::float8 AS avg, (e.value->>1)::float8 AS min,
                (e.value->>2)::float8 AS max, (e.value->>3)::int AS n
           FROM rig_sample_rollups r, jsonb_each(r.series) e WHERE r.rig_id = $1 ORDER BY r.bucket, e.key`,
        [rigId],
      );
    const after = await rows();
    const temp = after.filter((r: { series: string }) => r.series === 'gpu.0.temperatureC');
    // The day-old sample was rolled up into its bucket before it expired: nothing is lost.
    const old = new Date(Math.floor((now.getTime() - 25 * 3_600_000) / 300_000) * 300_000);
    expect(temp).toEqual([
      { bucket: old, series: 'gpu.0.temperatureC', avg: 60, min: 60, max: 60, n: 1 },
      { bucket, series: 'gpu.0.temperatureC', avg: 80, min: 70, max: 90, n: 3 },
    ]);
    // A reading that is not available is no series, not a zero.
    expect(after.some((r: { series: string }) => r.series === 'gpu.1.fanPercent')).toBe(false);
    expect(after.some((r: { series: string }) => r.series === 'gpu.0.fanPercent')).toBe(true);
    expect(after.some((r: { series: string }) => r.series === 'sensor.nct6775.SYSTIN')).toBe(true);
    await telemetry.rollup(now);
    expect(await rows()).toEqual(after);
    // The raw rows of the last day stay for detailed charts.
    expect(await db.ds.query(`SELECT count(*)::int AS n FROM rig_samples WHERE rig_id = $1`, [rigId])).toEqual([
      { n: 4 },
    ]);
  });

  it('serves series for charts to campus IT, and refuses bad questions clearly', async () => {
    const admin = await newUser(db.ds, 'it', 'admin');
    const student = await newUser(db.ds, 'kid');
    const at_ = await tokenFor(portal, admin, ['admin']);
    const since = new Date(bucket.getTime() - 60_000).toISOString();
    const fiveMin = await request(portal.url)
      .get(`/api/rigs/rig-t/telemetry?resolution=5m&series=gpu.0.&since=${since}`)
      .set('Authorization', `Bearer ${at_}`);
    expect(fiveMin.status).toBe(200);
    expect(fiveMin.body.series['gpu.0.temperatureC']).toEqual([
      { at: bucket.toISOString(), value: 80, min: 70, max: 90 },
    ]);
    expect(Object.keys(fiveMin.body.series).every((k) => k.startsWith('gpu.0.'))).toBe(true);
    const raw = await request(portal.url)
      .get(`/api/rigs/rig-t/telemetry?resolution=raw&series=gpu.0.temperatureC&since=${since}`)
      .set('Authorization', `Bearer ${at_}`);
    expect(raw.body.series['gpu.0.temperatureC'].map((p: { value: number }) => p.value)).toEqual([70, 80, 90, 99]);
    const bad = await request(portal.url)
      .get('/api/rigs/rig-t/telemetry?since=yesterday')
      .set('Authorization', `Bearer ${at_}`);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/since must be an ISO date/);
    expect(
      (await request(portal.url).get('/api/rigs/nope/telemetry').set('Authorization', `Bearer ${at_}`)).status,
    ).toBe(404);
    const kid = await tokenFor(portal, student);
    expect(
      (await request(portal.url).get('/api/rigs/rig-t/telemetry').set('Authorization', `Bearer ${kid}`)).status,
    ).toBe(403);
  });

  it('exports the latest readings on /metrics with DCGM and node-exporter names', async () => {
    await telemetry.store(
      rigId,
      sample(new Date(), [gpu(0, { temperatureC: 71, pcieReplays: 12, xids: [79] }), gpu(1, { fanPercent: null })]),
    );
    const text = (await request(portal.url).get('/metrics')).text;
    expect(text).toMatch(/^riglab_gpu_temp\{rig="rig-t",gpu="0",model="GTX 1070"\} 71$/m);
    expect(text).toMatch(/^riglab_pcie_replay_counter\{rig="rig-t",gpu="0",model="GTX 1070"\} 12$/m);
    expect(text).toMatch(/^riglab_xid_errors\{rig="rig-t",gpu="0",model="GTX 1070"\} 1$/m);
    expect(text).toMatch(/^riglab_fan_speed\{rig="rig-t",gpu="0",model="GTX 1070"\} 40$/m);
    expect(text).not.toMatch(/^riglab_fan_speed\{rig="rig-t",gpu="1"/m);
    expect(text).toMatch(/^riglab_hwmon_temp_celsius\{rig="rig-t",chip="nct6775",sensor="SYSTIN"\} 38$/m);
  });

  it('probes every rig that is not retired and stores what it reports; a dead engine is counted, not fatal', async () => {
    const live = await newRig(db.ds, 'rig-live', env.dockerHost);
    await newRig(db.ds, 'rig-gone', 'unix:///tmp/riglab-no-engine.sock');
    await newRig(db.ds, 'rig-old', env.dockerHost, { state: 'retired' });
    const result = await portal.app.get(TelemetryProbeService).probeAll();
    // rig-t (from above) and rig-gone have no engine; rig-old is retired and not probed.
    expect(result).toEqual({ probed: 1, failed: 2 });
    const [row] = await db.ds.query(`SELECT sample FROM rig_samples WHERE rig_id = $1`, [live.id]);
    expect(row.sample.cpus).toBeGreaterThan(0);
    expect(row.sample.memoryTotalMb).toBeGreaterThan(0);
    expect(row.sample.gpus).toEqual([]);
    expect(row.sample.notAvailable.map((n: { source: string }) => n.source)).toContain('nvidia-smi');
    expect((await request(portal.url).get('/metrics')).text).toMatch(
      /^riglab_rig_probe_failures_total\{rig="rig-gone",code="engine_unreachable"\} 1$/m,
    );
  }, 60_000);
});
