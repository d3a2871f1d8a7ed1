// Fair GPU queue and admission under load (issue 8), side by side with a baseline in one run, printed
// as ratios: 2,000 queued GPU launches across 50 courses, students with a ledger of past GPU use.
//  - admission: QuotaService.admit (advisory locks, weekly refill, budget from the ledger) for 2,000
//    students, 20 at a time — vs a bare transaction that only takes the same locks;
//  - ordering: GpuQueueService.ordered (decayed usage per student from the ledger, fair sort) — vs
//    first-come-first-served (ORDER BY gpu_queued_at);
//  - admitting the next: one dispatch round when a slot frees (order, place on a rig, publish every
//    waiting launch's position and estimated start).
// Needs PG_ADMIN_URL, REDIS_URL and ENGINE (a Docker engine; bench/run.sh sets them) and a build
// (`npm run build:api`). Knobs: BENCH_QUEUE_LAUNCHES (2000), BENCH_QUEUE_COURSES (50), BENCH_QUEUE_RUNS (15).
'use strict';
const { randomBytes, randomUUID } = require('node:crypto');
const { mkdirSync, writeFileSync } = require('node:fs');
const { cpus } = require('node:os');
const { join } = require('node:path');
const { Client } = require('pg');

const ROOT = join(__dirname, '..');
const env = process.env;
const LAUNCHES = Number(env.BENCH_QUEUE_LAUNCHES ?? 2000);
const COURSES = Number(env.BENCH_QUEUE_COURSES ?? 50);
const RUNS = Number(env.BENCH_QUEUE_RUNS ?? 15);
const GPUS = 40;
const DEBITS_PER_STUDENT = 10;

for (const k of ['PG_ADMIN_URL', 'REDIS_URL', 'ENGINE'])
  if (!env[k]) {
    process.stderr.write(`queue bench: ${k} is not set (run it through npm run bench)\n`);
    process.exit(2);
  }

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
async function timeRuns(n, work) {
  const ms = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await work(i);
    ms.push(performance.now() - t);
  }
  return { runs: n, p50: pct(ms, 50), p99: pct(ms, 99), min: Math.min(...ms) };
}
async function pool(items, width, work) {
  const ms = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const item = items[next++];
        const t = performance.now();
        await work(item);
        ms.push(performance.now() - t);
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  return { n: items.length, perSecond: items.length / s, p50: pct(ms, 50), p99: pct(ms, 99) };
}

/** Rows inserted in bulk: `INSERT ... SELECT * FROM unnest(...)` keeps setup to seconds. */
async function seed(db, engine, image) {
  const courseIds = Array.from({ length: COURSES }, () => randomUUID());
  await db.query(
    `INSERT INTO courses (id, code, term, title) SELECT id, 'C' || n, '2026F', 'bench course ' || n
       FROM unnest($1::uuid[]) WITH ORDINALITY AS x(id, n)`,
    [courseIds],
  );
  const users = Array.from({ length: LAUNCHES }, (_, i) => ({ id: randomUUID(), course: courseIds[i % COURSES] }));
  await db.query(
    `INSERT INTO users (id, username) SELECT id, 's' || n FROM unnest($1::uuid[]) WITH ORDINALITY AS x(id, n)`,
    [users.map((u) => u.id)],
  );
  await db.query(
    `INSERT INTO enrollments (user_id, course_id, role) SELECT * , 'student' FROM unnest($1::uuid[], $2::uuid[])`,
    [users.map((u) => u.id), users.map((u) => u.course)],
  );
  const templates = courseIds.map(() => ({ t: randomUUID(), v: randomUUID() }));
  await db.query(
    `INSERT INTO lab_templates (id, course_id, slug, title, published, current_version)
     SELECT t, c, 'ml-gpu', 'ML on a GPU', true, 1 FROM unnest($1::uuid[], $2::uuid[]) AS x(t, c)`,
    [templates.map((x) => x.t), courseIds],
  );
  await db.query(
    `INSERT INTO lab_template_versions (id, template_id, version, image, cpu_millis, memory_mb, gpu_policy)
     SELECT v, t, 1, $3, 500, 512, '{"required": true, "mode": "whole"}' FROM unnest($1::uuid[], $2::uuid[]) AS x(v, t)`,
    [templates.map((x) => x.v), templates.map((x) => x.t), image],
  );
  const [rig] = await db.query(
    `INSERT INTO rigs (name, docker_endpoint, cpu_millis, memory_mb, driver_kind) VALUES ('bench-rig', $1, 640000, 1048576, 'devices') RETURNING id`,
    [engine],
  );
  for (let g = 0; g < GPUS; g++) {
    const [gpu] = await db.query(
      `INSERT INTO gpus (rig_id, index, model, vram_mb, driver_kind, device_ids) VALUES ($1, $2, 'GTX 1070', 8192, 'devices', '{/dev/null}') RETURNING id`,
      [rig.id, g],
    );
    await db.query(`INSERT INTO gpu_slots (gpu_id, slot_index) VALUES ($1, 0)`, [gpu.id]);
  }
  // Past GPU use: a few debits per student over the last three days.
  const du = [];
  const dc = [];
  const da = [];
  const dm = [];
  for (const [i, u] of users.entries())
    for (let k = 0; k < DEBITS_PER_STUDENT; k++) {
      du.push(u.id);
      dc.push(u.course);
      da.push(new Date(Date.now() - ((i * 7 + k * 13) % 72) * 3600_000));
      dm.push(-((i + k) % 30) - 1);
    }
  return { courseIds, users, templates, rig, debits: { du, dc, da, dm } };
}

async function main() {
  const admin = new Client({ connectionString: env.PG_ADMIN_URL });
  await admin.connect();
  const dbName = `riglab_bench_queue_${randomBytes(3).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = env.PG_ADMIN_URL.replace(/\/[^/]*$/, `/${dbName}`);
  const { loadConfig } = require(join(ROOT, 'dist/api/src/platform/config/config'));
  const { createDataSource } = require(join(ROOT, 'dist/api/src/platform/db/data-source'));
  const { createApp } = require(join(ROOT, 'dist/api/src/platform/http/bootstrap'));
  const { QuotaService } = require(join(ROOT, 'dist/api/src/modules/quota/quota.service'));
  const { GpuQueueService } = require(join(ROOT, 'dist/api/src/modules/quota/gpu-queue.service'));
  const { LedgerService } = require(join(ROOT, 'dist/api/src/modules/ledger/ledger.service'));
  const ds = createDataSource(dbUrl);
  await ds.initialize();
  await ds.runMigrations();
  let app;
  try {
    const image = env.IMAGE ?? 'riglab/lab-python-basics:bench';
    const world = await seed(ds, env.ENGINE, image);
    // Workers off: the bench drives the queue itself, and no lab container is ever started.
    app = await createApp(
      loadConfig({
        RIGLAB_ENV_FILE: '',
        RIGLAB_ENV: 'test',
        DATABASE_URL: dbUrl,
        REDIS_URL: env.REDIS_URL,
        SESSION_SECRET: randomBytes(24).toString('hex'),
        LOG_LEVEL: 'silent',
        DEPLOYMENT_ID: `bq${randomBytes(3).toString('hex')}`,
        RUN_WORKERS: 'false',
        QUOTA_GPU_MINUTES: '100000',
        QUOTA_MAX_LABS: '5',
      }),
    );
    await app.init();
    const quota = app.get(QuotaService);
    const queue = app.get(GpuQueueService);
    const ledger = app.get(LedgerService);
    const { du, dc, da, dm } = world.debits;
    for (let i = 0; i < du.length; i += 1000)
      await ledger.append(
        du.slice(i, i + 1000).map((u, k) => ({
          kind: 'debit',
          userId: u,
          courseId: dc[i + k],
          gpuMinutes: dm[i + k],
          actor: 'system',
          reason: 'bench: earlier use',
          at: da[i + k],
        })),
      );

    // 1. Admission of every student's GPU launch (first admission of the week also writes the refill).
    const students = world.users.map((u) => ({ user: u.id, course: u.course }));
    const admitted = await pool(students, 20, (s) => ds.transaction((m) => quota.admit(m, s.user, s.course, true)));
    const locksOnly = await pool(students, 20, (s) =>
      ds.transaction(async (m) => {
        await m.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', ['riglab.quota.course', s.course]);
        await m.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [
          'riglab.quota.user',
          `${s.user}/${s.course}`,
        ]);
      }),
    );

    // 2. The queue: every student waits for one of the 40 GPUs, 39 of them busy.
    const sessions = world.users.map(() => randomUUID());
    await ds.query(
      `INSERT INTO lab_sessions (id, user_id, course_id, template_version_id, name, state, state_reason, gpu_queued_at, gpu_reserved_minutes)
       SELECT x.id, x.u, x.c, v.id, 'ml-gpu', 'queued', 'waiting for a GPU', now() - (x.n || ' seconds')::interval, 60
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) WITH ORDINALITY AS x(id, u, c, n)
         JOIN lab_templates t ON t.course_id = x.c JOIN lab_template_versions v ON v.template_id = t.id`,
      [sessions, world.users.map((u) => u.id), world.users.map((u) => u.course)],
    );
    const holders = sessions.slice(0, GPUS - 1);
    await ds.query(
      `UPDATE lab_sessions SET state = 'ready', gpu_queued_at = NULL, rig_id = $2, ready_at = now(),
              slice_ends_at = now() + ((random() * 60)::int || ' minutes')::interval WHERE id = ANY($1::uuid[])`,
      [holders, world.rig.id],
    );
    await ds.query(
      `UPDATE gpu_slots s SET session_id = h.id, reserved_at = now()
         FROM (SELECT id, row_number() OVER () AS n FROM unnest($1::uuid[]) AS id) h,
              (SELECT id, row_number() OVER (ORDER BY id) AS n FROM gpu_slots) g
        WHERE s.id = g.id AND g.n = h.n`,
      [holders],
    );
    const waiting = LAUNCHES - holders.length;
    const fair = await timeRuns(RUNS, () => queue.ordered());
    const fifo = await timeRuns(RUNS, () =>
      ds.query(
        `SELECT s.id FROM lab_sessions s WHERE s.state = 'queued' AND s.gpu_queued_at IS NOT NULL ORDER BY s.gpu_queued_at`,
      ),
    );
    // 3. A slot is free: one dispatch round admits the next in fair order; put it back each time.
    let lastAdmitted = null;
    const rounds = await timeRuns(RUNS, async () => {
      if (lastAdmitted) {
        await ds.query(`UPDATE gpu_slots SET session_id = NULL, reserved_at = NULL WHERE session_id = $1`, [
          lastAdmitted,
        ]);
        await ds.query(
          `UPDATE lab_sessions SET state = 'queued', gpu_queued_at = now() - interval '1 hour', rig_id = NULL, gpu_id = NULL WHERE id = $1`,
          [lastAdmitted],
        );
      }
      const r = await queue.dispatch();
      if (r === 'busy' || r.admitted !== 1) throw new Error(`a round admitted ${JSON.stringify(r)}`);
      [{ id: lastAdmitted }] = await ds.query(`SELECT id FROM lab_sessions WHERE state = 'starting'`);
    });

    const result = {
      date: new Date().toISOString().slice(0, 10),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
      setup: { launches: LAUNCHES, courses: COURSES, gpus: GPUS, waiting, ledgerEntries: du.length + LAUNCHES },
      admission: { riglab: admitted, locksOnly },
      ordering: { fair, fifo },
      dispatchRound: rounds,
    };
    const ms = (x) => `${x.toFixed(1)} ms`;
    const rows = [
      [
        `admit ${LAUNCHES} GPU launches (20 at once)`,
        `${admitted.perSecond.toFixed(0)}/s, p50 ${ms(admitted.p50)}, p99 ${ms(admitted.p99)}`,
        `locks only: ${locksOnly.perSecond.toFixed(0)}/s, p99 ${ms(locksOnly.p99)}`,
        `${(locksOnly.perSecond / admitted.perSecond).toFixed(2)}× the cost of the locks alone`,
      ],
      [
        `order ${waiting} waiting launches`,
        `fair: p50 ${ms(fair.p50)}, p99 ${ms(fair.p99)}`,
        `FIFO: p50 ${ms(fifo.p50)}, p99 ${ms(fifo.p99)}`,
        `fairness costs ${(fair.p50 / fifo.p50).toFixed(1)}× at p50`,
      ],
      [
        'one round: order, admit the next, publish positions',
        `p50 ${ms(rounds.p50)}, p99 ${ms(rounds.p99)}`,
        '',
        `${((rounds.p50 / waiting) * 1000).toFixed(0)} µs per waiting launch`,
      ],
    ];
    const head = ['benchmark', 'riglab', 'baseline', 'ratio'];
    const widths = [0, 1, 2, 3].map((c) => Math.max(...[head, ...rows].map((r) => r[c].length)));
    const line = (r) => `| ${r.map((v, c) => v.padEnd(widths[c])).join(' | ')} |`;
    console.log(
      `\nfair GPU queue and admission — ${LAUNCHES} launches, ${COURSES} courses, ${GPUS} GPUs, ${cpus().length} cores`,
    );
    console.log(line(head));
    console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
    for (const r of rows) console.log(line(r));
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    const file = join(ROOT, 'bench', 'results', `queue-${result.date}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\nfigures written to ${file}`);
  } finally {
    await app?.close();
    await ds.destroy();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((err) => {
  process.stderr.write(`queue bench failed: ${err.stack ?? err}\n`);
  process.exit(1);
});
