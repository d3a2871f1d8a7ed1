// What the benchmarks share: HTTP and polling helpers, a throw-away database, the portal as its own
// process (as `npm start` runs it), launching and stopping labs through its API, the process's CPU and
// memory from /proc, and removing what a run left on the engines.
'use strict';
const { spawn } = require('node:child_process');
const { createHash, randomBytes } = require('node:crypto');
const { readFileSync } = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const { join } = require('node:path');
const Docker = require('dockerode');
const { Client } = require('pg');

const ROOT = join(__dirname, '..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** The p-th percentile (nearest rank) of a list of numbers. */
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x) => `${x.toFixed(0)} ms`;
const summarize = (xs) => ({ n: xs.length, p50: pct(xs, 50), p95: pct(xs, 95), p99: pct(xs, 99) });
const dockerAt = (endpoint) => new Docker({ socketPath: endpoint.replace('unix://', '') });

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** One HTTP request; JSON body in and out (a non-JSON answer comes back as text). */
function request(method, url, headers = {}, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method, headers: { 'Content-Type': 'application/json', ...headers }, timeout: 30_000 },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (data += c));
        res.on('end', () => {
          let parsed = data || null;
          try {
            parsed = data ? JSON.parse(data) : null;
          } catch {
            // not JSON: the text itself
          }
          resolve({ status: res.statusCode, headers: res.headers, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

async function until(probe, ok, timeoutMs, everyMs = 50) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined && ok(v)) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(everyMs);
  }
}

/** A fresh database with riglab's schema; `drop()` removes it. */
async function freshDatabase(adminUrl, deployment) {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  const name = `riglab_${deployment}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = adminUrl.replace(/\/[^/]*$/, `/${name}`);
  const { createDataSource } = require(join(ROOT, 'dist/api/src/platform/db/data-source'));
  const ds = createDataSource(url);
  await ds.initialize();
  await ds.runMigrations();
  await ds.destroy();
  const db = new Client({ connectionString: url });
  await db.connect();
  return {
    url,
    db,
    q: (sql, args) => db.query(sql, args).then((r) => r.rows),
    drop: async () => {
      await db.end();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** Rigs (name → engine endpoint) with room for far more labs than any bench starts. */
async function seedRigs(q, rigs) {
  for (const [name, endpoint] of Object.entries(rigs))
    await q(`INSERT INTO rigs (name, docker_endpoint, cpu_millis, memory_mb) VALUES ($1, $2, 640000, 655360)`, [
      name,
      endpoint,
    ]);
}

/** A course with one published lab template of the image; returns the template's id. */
async function seedCourse(q, { code, term, image, cpuMillis = 200, memoryMb = 256 }) {
  const [course] = await q(`INSERT INTO courses (code, term, title) VALUES ($1, $2, 'Benchmarks') RETURNING id`, [
    code,
    term,
  ]);
  const [tpl] = await q(
    `INSERT INTO lab_templates (course_id, slug, title, published, current_version) VALUES ($1, 'py', 'Bench', true, 1) RETURNING id`,
    [course.id],
  );
  await q(
    `INSERT INTO lab_template_versions (template_id, version, image, cpu_millis, memory_mb, pids_limit, starter_files) VALUES ($1, 1, $2, $3, $4, 256, 'python-basics/starter')`,
    [tpl.id, image, cpuMillis, memoryMb],
  );
  return { courseId: course.id, templateId: tpl.id };
}

/** Students of the course, each with an API token: `{ username, auth }` (auth: headers). */
async function seedStudents(q, courseId, n, prefix = 'b') {
  const users = [];
  for (let i = 0; i < n; i++) {
    const [u] = await q(`INSERT INTO users (username, campus_role) VALUES ($1, 'student') RETURNING id, username`, [
      `${prefix}${i}`,
    ]);
    await q(`INSERT INTO enrollments (user_id, course_id, role) VALUES ($1, $2, 'student')`, [u.id, courseId]);
    const token = `rgl_${randomBytes(32).toString('base64url')}`;
    await q(`INSERT INTO api_tokens (user_id, prefix, hash, scopes) VALUES ($1, $2, $3, '{read,labs}')`, [
      u.id,
      token.slice(0, 10),
      createHash('sha256').update(token).digest('hex'),
    ]);
    users.push({ ...u, token, auth: { Authorization: `Bearer ${token}` } });
  }
  return users;
}

/**
 * The portal as its own process on a free port (dist/, production mode unless `vars` says otherwise).
 * `pid` is the process to measure (one portal process unless PORTAL_PROCESSES says more).
 */
async function startPortal({ dbUrl, redisUrl, deployment, vars = {}, nodeArgs = [] }) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(process.execPath, [...nodeArgs, join(ROOT, 'dist/api/src/main.js')], {
    env: {
      PATH: process.env.PATH,
      RIGLAB_ENV_FILE: '',
      RIGLAB_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_URL: url,
      DATABASE_URL: dbUrl,
      REDIS_URL: redisUrl,
      SESSION_SECRET: randomBytes(24).toString('hex'),
      LOG_LEVEL: 'warn',
      DEPLOYMENT_ID: deployment,
      LAUNCH_CONCURRENCY: '500',
      LAUNCH_RATE_PER_MINUTE: '10000',
      LAUNCH_TIMEOUT_S: '300',
      ...vars,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await until(
    () => request('GET', `${url}/api/health`).then((r) => r.status),
    (s) => s === 200,
    60_000,
    200,
  );
  return {
    url,
    pid: proc.pid,
    stop: async () => {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
    },
  };
}

const TICKS = 100; // USER_HZ on Linux
/** CPU seconds (user + system) and resident memory (MB) of a process, from /proc. */
function procStats(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuS = (Number(fields[11]) + Number(fields[12])) / TICKS;
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuS, rssMb: rss ? Number(rss[1]) / 1024 : NaN };
}

/** Samples a process every `everyMs` until `stop()`: peak and mean RSS, and its CPU over the whole span in cores. */
function watchProcess(pid, everyMs = 500) {
  const first = procStats(pid);
  const t0 = performance.now();
  const rss = [];
  const timer = setInterval(() => {
    try {
      rss.push(procStats(pid).rssMb);
    } catch {
      // the process ended
    }
  }, everyMs);
  return () => {
    clearInterval(timer);
    const last = procStats(pid);
    const seconds = (performance.now() - t0) / 1000;
    return {
      seconds,
      cores: (last.cpuS - first.cpuS) / seconds,
      rssPeakMb: Math.max(last.rssMb, ...rss),
      rssMeanMb: rss.length ? rss.reduce((a, b) => a + b, 0) / rss.length : last.rssMb,
    };
  };
}

/**
 * POST /api/labs and wait until the lab is ready (or failed: thrown with its reason), asking every
 * `everyMs` (a student's page asks about every second; a latency measurement asks more often).
 */
async function launch(portal, auth, templateId, { timeoutMs = 300_000, everyMs = 250 } = {}) {
  const res = await request('POST', `${portal}/api/labs`, auth, { templateId });
  if (res.status !== 202 && res.status !== 200) throw new Error(`launch: ${res.status} ${JSON.stringify(res.body)}`);
  const lab = await until(
    () => request('GET', `${portal}/api/labs/${res.body.id}`, auth).then((r) => r.body),
    (b) => ['ready', 'failed'].includes(b?.state),
    timeoutMs,
    everyMs,
  );
  if (lab.state !== 'ready') throw new Error(`launch failed: ${lab.stateReason}`);
  return lab;
}

async function stopLab(portal, auth, lab) {
  await request('DELETE', `${portal}/api/labs/${lab.id}`, auth);
  await until(
    () => request('GET', `${portal}/api/labs/${lab.id}`, auth).then((r) => r.body),
    (b) => b?.state === 'stopped',
    120_000,
    250,
  );
}

/** Removes every container, volume and network a run (its deployment label) left on the engines. */
async function cleanEngines(endpoints, deployment) {
  const filters = JSON.stringify({ label: [`org.riglab.deployment=${deployment}`] });
  for (const e of endpoints) {
    const d = dockerAt(e);
    const gone = (p) => p.catch(() => undefined);
    for (const c of await d.listContainers({ all: true, filters }))
      await gone(d.getContainer(c.Id).remove({ force: true }));
    for (const v of (await d.listVolumes({ filters })).Volumes ?? [])
      await gone(d.getVolume(v.Name).remove({ force: true }));
    for (const n of await d.listNetworks({ filters })) await gone(d.getNetwork(n.Id).remove());
  }
}

const MACHINE = () => {
  const os = require('node:os');
  return `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`;
};

module.exports = {
  ROOT,
  MACHINE,
  sleep,
  pct,
  ms,
  summarize,
  dockerAt,
  freePort,
  request,
  until,
  freshDatabase,
  seedRigs,
  seedCourse,
  seedStudents,
  startPortal,
  procStats,
  watchProcess,
  launch,
  stopLab,
  cleanEngines,
};
