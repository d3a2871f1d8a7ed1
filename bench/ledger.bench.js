// Usage ledger benchmark (issue 8), side by side with its baseline in one run, printed as ratios:
// append throughput one entry per transaction vs batches of 100, each against a plain INSERT of the
// same rows without the chain (no lock, no head read, no hash), and verify time per 100,000 entries.
// Run alone with `node bench/ledger.bench.js` (PG_ADMIN_URL, or DATABASE_URL of a server where it may
// create a database; needs `npm run build:api`), or from `npm run bench`. Knobs: BENCH_LEDGER_SINGLE
// (appends one per transaction, 2000), BENCH_LEDGER_BATCHED (entries in batches of 100, 20000),
// BENCH_LEDGER_VERIFY (chain length verified, 100000).
'use strict';
const { randomBytes, randomUUID } = require('node:crypto');
const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { Client } = require('pg');

const ROOT = join(__dirname, '..');
const env = process.env;
const SINGLE = Number(env.BENCH_LEDGER_SINGLE ?? 2000);
const BATCHED = Number(env.BENCH_LEDGER_BATCHED ?? 20000);
const VERIFY = Number(env.BENCH_LEDGER_VERIFY ?? 100000);
const BATCH = 100;

const adminUrl = env.PG_ADMIN_URL ?? env.DATABASE_URL;
if (!adminUrl) {
  process.stderr.write(
    'ledger bench: set PG_ADMIN_URL (or DATABASE_URL) to a PostgreSQL server it may create a database on\n',
  );
  process.exit(2);
}

const users = Array.from({ length: 50 }, () => randomUUID());
const courses = Array.from({ length: 10 }, () => randomUUID());
/** A debit as metering writes one: a minute of GPU use with its rig, GPU and rate. */
const draft = (i) => ({
  kind: 'debit',
  userId: users[i % users.length],
  courseId: courses[i % courses.length],
  sessionId: null,
  gpuMinutes: -1.25,
  cpuMinutes: -2,
  actor: 'system',
  reason: 'GPU minute metered',
  detail: { rig: `rig-${i % 7}`, gpuId: i % 4, gpuModel: 'GTX 1070', slotShare: 1, rate: 1.25, week: '2026-W49' },
});

async function plainInsert(db, rows) {
  const params = [];
  const tuples = rows.map((d) => {
    params.push(
      d.kind,
      d.userId,
      d.courseId,
      String(d.gpuMinutes),
      String(d.cpuMinutes),
      d.actor,
      d.reason,
      JSON.stringify(d.detail),
    );
    const b = params.length - 8;
    return `(now(), ${Array.from({ length: 8 }, (_, k) => `$${b + k + 1}`).join(', ')})`;
  });
  await db.query(
    `INSERT INTO bench_plain (at, kind, user_id, course_id, gpu_minutes, cpu_minutes, actor, reason, detail) VALUES ${tuples.join(', ')}`,
    params,
  );
}

async function timed(n, work) {
  const t = performance.now();
  await work();
  const s = (performance.now() - t) / 1000;
  return { entries: n, seconds: s, perSecond: n / s };
}

async function main() {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  const dbName = `riglab_bench_ledger_${randomBytes(3).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = adminUrl.replace(/\/[^/]*$/, `/${dbName}`);
  const { createDataSource } = require(join(ROOT, 'dist/api/src/platform/db/data-source'));
  const { LedgerService } = require(join(ROOT, 'dist/api/src/modules/ledger/ledger.service'));
  const ds = createDataSource(dbUrl);
  await ds.initialize();
  try {
    await ds.runMigrations();
    // The baseline: the same columns and secondary indexes, a sequence instead of the chain.
    await ds.query(`CREATE TABLE bench_plain (seq bigserial PRIMARY KEY, at timestamptz NOT NULL, kind varchar(40) NOT NULL,
      user_id uuid, course_id uuid, session_id uuid, gpu_minutes numeric(14,4) NOT NULL, cpu_minutes numeric(14,4) NOT NULL,
      actor varchar(100) NOT NULL, reason text NOT NULL, detail jsonb NOT NULL, idem_key varchar(200))`);
    await ds.query(`CREATE INDEX ON bench_plain (user_id, course_id, at)`);
    await ds.query(`CREATE INDEX ON bench_plain (course_id, at)`);
    await ds.query(`CREATE UNIQUE INDEX ON bench_plain (idem_key) WHERE idem_key IS NOT NULL`);
    const ledger = new LedgerService(ds);
    ledger.log = { log: () => undefined, warn: () => undefined }; // keep the report readable
    const db = new Client({ connectionString: dbUrl });
    await db.connect();

    let i = 0;
    const single = {
      chain: await timed(SINGLE, async () => {
        for (let k = 0; k < SINGLE; k++) await ledger.append([draft(i++)]);
      }),
      plain: await timed(SINGLE, async () => {
        for (let k = 0; k < SINGLE; k++) {
          await db.query('BEGIN');
          await plainInsert(db, [draft(i++)]);
          await db.query('COMMIT');
        }
      }),
    };
    const batched = {
      chain: await timed(BATCHED, async () => {
        for (let k = 0; k < BATCHED; k += BATCH) await ledger.append(Array.from({ length: BATCH }, () => draft(i++)));
      }),
      plain: await timed(BATCHED, async () => {
        for (let k = 0; k < BATCHED; k += BATCH) {
          await db.query('BEGIN');
          await plainInsert(
            db,
            Array.from({ length: BATCH }, () => draft(i++)),
          );
          await db.query('COMMIT');
        }
      }),
    };
    // Grow the chain to the length to verify (batches of 1000: only the length matters here).
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM ledger_entries`);
    for (let have = n; have < VERIFY; have += 1000)
      await ledger.append(Array.from({ length: Math.min(1000, VERIFY - have) }, () => draft(i++)));
    const runs = [];
    for (let r = 0; r < 3; r++) runs.push(await ledger.verify());
    const best = runs.reduce((a, b) => (a.durationMs <= b.durationMs ? a : b));
    if (!best.ok) throw new Error(`verify found the bench chain broken: ${JSON.stringify(best.firstBad)}`);
    const [{ bytes }] = await ds.query(`SELECT pg_total_relation_size('ledger_entries')::bigint AS bytes`);
    await db.end();

    const result = {
      date: new Date().toISOString().slice(0, 10),
      single,
      batched,
      batchOverSingle: batched.chain.perSecond / single.chain.perSecond,
      chainCostSingle: single.plain.perSecond / single.chain.perSecond,
      chainCostBatched: batched.plain.perSecond / batched.chain.perSecond,
      verify: {
        entries: best.entries,
        msBest: best.durationMs,
        msRuns: runs.map((r) => r.durationMs),
        msPer100k: (best.durationMs / best.entries) * 100000,
        entriesPerSecond: best.entries / (best.durationMs / 1000),
        tableMb: Number(bytes) / 1048576,
      },
    };
    const eps = (x) => `${x.perSecond.toFixed(0)} entries/s`;
    const rows = [
      [
        'append, one entry per transaction',
        eps(single.chain),
        `plain INSERT: ${eps(single.plain)}`,
        `chain costs ${result.chainCostSingle.toFixed(2)}×`,
      ],
      [
        'append, batches of 100',
        eps(batched.chain),
        `plain INSERT: ${eps(batched.plain)}`,
        `chain costs ${result.chainCostBatched.toFixed(2)}×`,
      ],
      [
        'batches of 100 / one per transaction',
        `${result.batchOverSingle.toFixed(1)}×`,
        `plain: ${(batched.plain.perSecond / single.plain.perSecond).toFixed(1)}×`,
        '',
      ],
      [
        `verify ${best.entries} entries`,
        `${best.durationMs} ms (best of ${runs.map((r) => r.durationMs).join(' / ')})`,
        '',
        `${result.verify.msPer100k.toFixed(0)} ms per 100,000 (${result.verify.entriesPerSecond.toFixed(0)} entries/s; table ${result.verify.tableMb.toFixed(0)} MB)`,
      ],
    ];
    const widths = [0, 1, 2, 3].map((c) =>
      Math.max(...[['benchmark', 'riglab ledger', 'baseline', 'ratio'], ...rows].map((r) => r[c].length)),
    );
    const line = (r) => `| ${r.map((v, c) => v.padEnd(widths[c])).join(' | ')} |`;
    console.log(line(['benchmark', 'riglab ledger', 'baseline', 'ratio']));
    console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
    for (const r of rows) console.log(line(r));
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    const file = join(ROOT, 'bench', 'results', `ledger-${result.date}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\nfigures written to ${file}`);
  } finally {
    await ds.destroy();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((err) => {
  process.stderr.write(`ledger bench failed: ${err.stack ?? err}\n`);
  process.exit(1);
});
