// Telemetry probe and ingest benchmark (issue 9), side by side with baselines in one run, printed as
// ratios: one probe per rig per 30 s for RIGS (500) simulated rigs, whose samples are parsed from the
// real captured tool outputs under test/fixtures/telemetry (6 NVIDIA GPUs, board sensors, a BMC).
//   - probe: the real probe container on the local engine (median of PROBES runs) vs a bare
//     `docker run` of the same image doing nothing (what the container itself costs), and whether one
//     portal process (4 probes at a time) gets round RIGS rigs within the 30 s interval;
//   - ingest: TelemetryService.store, one INSERT per sample as the probe job writes them, vs one
//     multi-row INSERT per round (the batched baseline); rows/s;
//   - growth: bytes per rig per day in rig_samples (raw, kept 24 h) and rig_sample_rollups (90 days);
//   - /metrics: render time with RIGS rigs' latest samples (read from Postgres at scrape time) vs the
//     same gauges set in memory.
// Run alone with `node bench/telemetry.bench.js` (PG_ADMIN_URL, ENGINE = a Docker host; needs
// `npm run build:api`), or from `npm run bench`. Knobs: BENCH_TELEMETRY_RIGS (500),
// BENCH_TELEMETRY_ROUNDS (rounds of 30 s replayed, 20), BENCH_TELEMETRY_PROBES (6).
'use strict';
const { randomBytes } = require('node:crypto');
const { execFileSync } = require('node:child_process');
const { mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const { cpus } = require('node:os');
const { join } = require('node:path');

const ROOT = join(__dirname, '..');
const env = process.env;
const RIGS = Number(env.BENCH_TELEMETRY_RIGS ?? 500);
const ROUNDS = Number(env.BENCH_TELEMETRY_ROUNDS ?? 20);
const PROBES = Number(env.BENCH_TELEMETRY_PROBES ?? 6);
const INTERVAL_S = 30;
const PROBE_CONCURRENCY = Number(env.TELEMETRY_PROBE_CONCURRENCY ?? 16); // TelemetryProbeService's workers (default)

const adminUrl = env.PG_ADMIN_URL ?? env.DATABASE_URL;
if (!adminUrl || !env.ENGINE) {
  process.stderr.write('telemetry bench: set PG_ADMIN_URL (a PostgreSQL server) and ENGINE (a Docker host)\n');
  process.exit(2);
}
const dist = (p) => require(join(ROOT, 'dist', p));
const fixture = (p) => readFileSync(join(ROOT, 'test/fixtures/telemetry', p), 'utf8');

/** A mining rig's probe output from real captures: six P100 rows, a B350 board, an HP BMC. */
function probeOutput() {
  const csv = fixture('nvidia/tesla-p100-header.csv').trim().split('\n');
  const rows = Array.from({ length: 6 }, () => csv[1]); // no index column: the parser numbers the rows
  return [
    '@@riglab probe 1',
    '@@riglab section nproc',
    '8',
    '@@riglab section loadavg',
    '1.50 0.98 1.56 2/116 2053',
    '@@riglab section meminfo',
    'MemTotal: 16384000 kB',
    'MemAvailable: 9000000 kB',
    '@@riglab section df',
    'Filesystem 1024-blocks Used Available Capacity Mounted on',
    '/dev/sda1 244277768 120000000 124277768 50% /rig/data-root',
    '@@riglab section hwmon',
    fixture('hwmon/nct6779-asrock-ab350-fans-assembled.txt'),
    '@@riglab section nvidia-smi',
    csv[0],
    ...rows,
    '@@riglab exit 0',
    '@@riglab section ipmitool',
    fixture('ipmitool/hp-dl380-g7-sdr.txt'),
    '@@riglab end',
  ].join('\n');
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function probeCost(target) {
  const { RigProber } = dist('spawner/src');
  const prober = new RigProber();
  await prober.probe(target); // imports the image once
  const probe = [];
  for (let i = 0; i < PROBES; i++) probe.push((await prober.probe(target)).wallMs);
  const tag = (await prober.probe(target)).image;
  const bare = [];
  for (let i = 0; i < PROBES; i++) {
    const t = performance.now();
    execFileSync('docker', ['-H', env.ENGINE, 'run', '--rm', '--network', 'none', tag, '/bin/sh', '-c', ':']);
    bare.push(performance.now() - t);
  }
  return { probeMs: median(probe), bareRunMs: median(bare), probeRuns: probe, bareRuns: bare.map(Math.round) };
}

async function main() {
  const { Client } = require('pg');
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  const dbName = `riglab_bench_telemetry_${randomBytes(3).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = adminUrl.replace(/\/[^/]*$/, `/${dbName}`);
  const { createDataSource } = dist('api/src/platform/db/data-source');
  const { TelemetryService } = dist('api/src/modules/telemetry/telemetry.service');
  const { TelemetryMetrics } = dist('api/src/modules/telemetry/telemetry.metrics');
  const { Metrics } = dist('api/src/platform/metrics/metrics');
  const { parseProbeOutput } = dist('spawner/src/probes/parsers');
  const ds = createDataSource(dbUrl);
  await ds.initialize();
  try {
    await ds.runMigrations();
    const config = { telemetry: { rawHours: 24, rollupDays: 90, rollupIntervalS: 300, probeIntervalS: INTERVAL_S } };
    const telemetry = new TelemetryService(config, ds);
    telemetry.log = { log: () => undefined, warn: () => undefined };
    const ids = (
      await ds.query(
        `INSERT INTO rigs (name, docker_endpoint, cpu_millis, memory_mb)
         SELECT 'bench-' || g, 'tcp://10.0.' || (g / 250) || '.' || (g % 250) || ':2376', 8000, 16384 FROM generate_series(1, $1) g
         RETURNING id`,
        [RIGS],
      )
    ).map((r) => r.id);

    const output = probeOutput();
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) parseProbeOutput(output);
    const parseMs = (performance.now() - t0) / 200;

    // Replayed rounds: every rig's sample of round r is stamped r × 30 s after the start, as if probed.
    const start = Date.now() - ROUNDS * INTERVAL_S * 1000 - 600_000;
    const sampleAt = (r) => parseProbeOutput(output, new Date(start + r * INTERVAL_S * 1000).toISOString());
    const half = Math.floor(ROUNDS / 2);
    const t1 = performance.now();
    for (let r = 0; r < half; r++) {
      const s = sampleAt(r);
      for (const id of ids) await telemetry.store(id, s);
    }
    const storeS = (performance.now() - t1) / 1000;
    const t2 = performance.now();
    for (let r = half; r < ROUNDS; r++) {
      const s = JSON.stringify(sampleAt(r));
      const at = new Date(start + r * INTERVAL_S * 1000);
      await ds.query(`INSERT INTO rig_samples (rig_id, at, sample) SELECT unnest($1::uuid[]), $2, $3::jsonb`, [
        ids,
        at,
        s,
      ]);
    }
    const batchS = (performance.now() - t2) / 1000;
    const storeRows = half * RIGS;
    const batchRows = (ROUNDS - half) * RIGS;

    const [{ bytes: rawBytes, n: rawN }] = await ds.query(
      `SELECT pg_total_relation_size('rig_samples')::bigint AS bytes, (SELECT count(*)::int FROM rig_samples) AS n`,
    );
    const t3 = performance.now();
    const rolled = await telemetry.rollup(new Date(start + ROUNDS * INTERVAL_S * 1000 + 600_000));
    const rollupS = (performance.now() - t3) / 1000;
    const [{ bytes: rollBytes, buckets }] = await ds.query(
      `SELECT pg_total_relation_size('rig_sample_rollups')::bigint AS bytes, count(DISTINCT (rig_id, bucket))::int AS buckets FROM rig_sample_rollups`,
    );
    const perSampleBytes = Number(rawBytes) / rawN;
    const perBucketBytes = Number(rollBytes) / buckets;
    const growth = {
      rawBytesPerSample: perSampleBytes,
      rawMbPerRigPerDay: (perSampleBytes * (86_400 / INTERVAL_S)) / 1048576,
      rollupKbPerRigPerDay: (perBucketBytes * 288) / 1024,
      rollupMbPerRig90Days: (perBucketBytes * 288 * 90) / 1048576,
      rollupRowsPerBucket: rolled.rolled / buckets,
    };

    // /metrics: the real collector reads every rig's latest sample; the baseline sets the same values in memory.
    const metrics = new Metrics();
    new TelemetryMetrics(metrics, { latest: () => telemetry.latest(24 * 3_600_000) });
    const renders = [];
    let text = '';
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 1_100)); // past the collectors' one-second cache: a fresh scrape
      const t = performance.now();
      text = await metrics.registry.metrics();
      renders.push(performance.now() - t);
    }
    const series = text.split('\n').filter((l) => l.startsWith('riglab_gpu_temp{')).length;
    const { Gauge, Registry } = require('prom-client');
    const reg = new Registry();
    const names = ['riglab_gpu_temp', 'riglab_fan_speed', 'riglab_power_usage', 'riglab_gpu_utilization'];
    const gauges = names.map(
      (name) => new Gauge({ name, help: name, labelNames: ['rig', 'gpu', 'model'], registers: [reg] }),
    );
    for (let k = 0; k < RIGS; k++)
      for (let g = 0; g < 6; g++)
        for (const gauge of gauges) gauge.set({ rig: `bench-${k}`, gpu: String(g), model: 'P100' }, 1);
    const base = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await reg.metrics();
      base.push(performance.now() - t);
    }

    const probe = await probeCost({
      id: 'bench-probe',
      name: 'bench-probe',
      endpoint: { url: env.ENGINE },
      reach: { mode: 'bridge' },
    });
    const roundS = (RIGS * probe.probeMs) / PROBE_CONCURRENCY / 1000;
    const result = {
      date: new Date().toISOString().slice(0, 10),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
      rigs: RIGS,
      rounds: ROUNDS,
      gpusPerRig: 6,
      parseMsPerSample: parseMs,
      ingest: {
        store: { rows: storeRows, seconds: storeS, perSecond: storeRows / storeS },
        batched: { rows: batchRows, seconds: batchS, perSecond: batchRows / batchS },
        neededPerSecond: RIGS / INTERVAL_S,
      },
      rollup: { seconds: rollupS, rollups: rolled.rolled },
      growth,
      metrics: { renderMs: median(renders), baselineMs: median(base), gpuTempSeries: series, bytes: text.length },
      probe: { ...probe, roundSeconds: roundS, concurrency: PROBE_CONCURRENCY, intervalS: INTERVAL_S },
    };
    const f = (x, d = 0) => x.toFixed(d);
    const rows = [
      [
        `probe container, local engine`,
        `${f(probe.probeMs)} ms`,
        `bare docker run: ${f(probe.bareRunMs)} ms`,
        `${f(probe.probeMs / probe.bareRunMs, 2)}×`,
      ],
      [
        `a round of ${RIGS} rigs, ${PROBE_CONCURRENCY} at a time (median × rigs ÷ concurrency)`,
        `${f(roundS, 1)} s`,
        `interval: ${INTERVAL_S} s`,
        `${f(roundS / INTERVAL_S, 2)}× the interval`,
      ],
      [
        'ingest (store, one INSERT per sample)',
        `${f(result.ingest.store.perSecond)} rows/s`,
        `one INSERT per round: ${f(result.ingest.batched.perSecond)} rows/s`,
        `${f(result.ingest.batched.perSecond / result.ingest.store.perSecond, 2)}× slower; needs ${f(RIGS / INTERVAL_S, 1)}/s`,
      ],
      ['parse one sample (6 GPUs, sensors, BMC)', `${f(parseMs, 3)} ms`, '', ''],
      [
        'growth per rig per day',
        `raw ${f(growth.rawMbPerRigPerDay, 1)} MB (kept 24 h)`,
        `rollups ${f(growth.rollupKbPerRigPerDay)} KB/day, ${f(growth.rollupMbPerRig90Days)} MB over 90 days`,
        `${f(perSampleBytes)} B per sample`,
      ],
      [
        `/metrics with ${RIGS} rigs (${series} GPU temperature series)`,
        `${f(result.metrics.renderMs, 1)} ms`,
        `same gauges in memory: ${f(result.metrics.baselineMs, 1)} ms`,
        `${f(result.metrics.renderMs / result.metrics.baselineMs, 2)}×`,
      ],
      [`rollup of ${rawN} samples`, `${f(rollupS, 1)} s`, `${rolled.rolled} series × buckets in ${buckets} rows`, ''],
    ];
    const widths = [0, 1, 2, 3].map((c) =>
      Math.max(...[...rows, ['benchmark', 'riglab', 'baseline', 'ratio']].map((r) => r[c].length)),
    );
    const line = (r) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
    console.log(
      `\ntelemetry probe and ingest — ${RIGS} rigs × 6 GPUs, ${ROUNDS} rounds of ${INTERVAL_S} s, ${cpus().length} cores`,
    );
    console.log(line(['benchmark', 'riglab', 'baseline', 'ratio']));
    console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
    for (const r of rows) console.log(line(r));
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    const file = join(ROOT, 'bench', 'results', `telemetry-${result.date}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\nfigures written to ${file}`);
  } finally {
    await ds.destroy();
    await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((err) => {
  process.stderr.write(`telemetry bench failed: ${err.stack ?? err}\n`);
  process.exit(1);
});
