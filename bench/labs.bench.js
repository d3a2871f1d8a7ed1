// riglab benchmarks (issue 3), each side by side with its baseline in one run, printed as ratios.
// Run with `npm run bench` (bench/run.sh brings up the services). Knobs: BENCH_LAUNCHES (launch latency
// samples, 6), BENCH_SECONDS (per HTTP load, 5), BENCH_BURST (launches at once, 50).
'use strict';
const { spawn } = require('node:child_process');
const { createHash, randomBytes } = require('node:crypto');
const { mkdirSync, writeFileSync } = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const { join } = require('node:path');
const autocannon = require('autocannon');
const Docker = require('dockerode');
const { KernelManager, ServerConnection } = require('@jupyterlab/services');
const { Client } = require('pg');

const LAB_TOKEN_KEY = require('node:crypto').randomBytes(32).toString('hex');
const ROOT = join(__dirname, '..');
// @jupyterlab/services narrates every WebSocket (re)connection; keep the report readable.
console.debug = () => undefined;
const warn = console.warn;
console.warn = (...a) => (/^Connection lost/.test(String(a[0])) ? undefined : warn(...a));
const env = process.env;
const LAUNCHES = Number(env.BENCH_LAUNCHES ?? 6);
const SECONDS = Number(env.BENCH_SECONDS ?? 5);
const BURST = Number(env.BENCH_BURST ?? 50);
const deployment = `bench${randomBytes(3).toString('hex')}`;
const sock = (u) => ({ socketPath: u.replace('unix://', '') });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const PROCESSES = process.env.BENCH_PORTAL_PROCESSES ?? '1';
const ms = (x) => `${x.toFixed(0)} ms`;

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function request(method, url, headers = {}, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method, headers: { 'Content-Type': 'application/json', ...headers }, timeout: 30_000 },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (data += c));
        res.on('end', () => resolve({ status: res.statusCode, body: data ? JSON.parse(data) : null }));
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

async function runCode(settings, code) {
  const kernels = new KernelManager({ serverSettings: settings });
  await kernels.ready;
  const kernel = await kernels.startNew({ name: 'python3' });
  let out = '';
  const future = kernel.requestExecute({ code });
  future.onIOPub = (msg) => {
    if (msg.header.msg_type === 'stream') out += msg.content.text;
  };
  await future.done;
  await kernel.shutdown().catch(() => undefined);
  kernel.dispose();
  kernels.dispose();
  if (out.trim() !== '42') throw new Error(`kernel printed ${JSON.stringify(out)}`);
}

const settingsFor = (base, token) =>
  ServerConnection.makeSettings({ baseUrl: base, wsUrl: base.replace(/^http/, 'ws'), token, appendToken: true });

async function seed(db) {
  const q = (sql, args) => db.query(sql, args).then((r) => r.rows);
  const [course] = await q(
    `INSERT INTO courses (code, term, title) VALUES ('BENCH', '2026F', 'Benchmarks') RETURNING id`,
  );
  const [tpl] = await q(
    `INSERT INTO lab_templates (course_id, slug, title, published, current_version) VALUES ($1, 'py', 'Bench', true, 1) RETURNING id`,
    [course.id],
  );
  await q(
    `INSERT INTO lab_template_versions (template_id, version, image, cpu_millis, memory_mb, pids_limit, starter_files) VALUES ($1, 1, $2, 200, 256, 256, 'python-basics/starter')`,
    [tpl.id, env.IMAGE],
  );
  for (const [name, endpoint] of [
    ['rig-a', env.ENGINE],
    ['rig-b', env.RIG2],
  ]) {
    await q(`INSERT INTO rigs (name, docker_endpoint, cpu_millis, memory_mb) VALUES ($1, $2, 64000, 65536)`, [
      name,
      endpoint,
    ]);
  }
  const users = [];
  for (let i = 0; i < Math.max(BURST, 1) + 1; i++) {
    const [u] = await q(`INSERT INTO users (username, campus_role) VALUES ($1, 'student') RETURNING id, username`, [
      `b${i}`,
    ]);
    await q(`INSERT INTO enrollments (user_id, course_id, role) VALUES ($1, $2, 'student')`, [u.id, course.id]);
    const token = `rgl_${randomBytes(32).toString('base64url')}`;
    await q(`INSERT INTO api_tokens (user_id, prefix, hash, scopes) VALUES ($1, $2, $3, '{read,labs}')`, [
      u.id,
      token.slice(0, 10),
      createHash('sha256').update(token).digest('hex'),
    ]);
    users.push({ ...u, token });
  }
  return { templateId: tpl.id, users };
}

async function launch(portal, user, templateId) {
  const auth = { Authorization: `Bearer ${user.token}` };
  const res = await request('POST', `${portal}/api/labs`, auth, { templateId });
  if (res.status !== 202 && res.status !== 200) throw new Error(`launch: ${res.status} ${JSON.stringify(res.body)}`);
  const lab = await until(
    () => request('GET', `${portal}/api/labs/${res.body.id}`, auth).then((r) => r.body),
    (b) => ['ready', 'failed'].includes(b.state),
    180_000,
  );
  if (lab.state !== 'ready') throw new Error(`launch failed: ${lab.stateReason}`);
  return lab;
}

async function stop(portal, user, lab) {
  const auth = { Authorization: `Bearer ${user.token}` };
  await request('DELETE', `${portal}/api/labs/${lab.id}`, auth);
  await until(
    () => request('GET', `${portal}/api/labs/${lab.id}`, auth).then((r) => r.body),
    (b) => b.state === 'stopped',
    60_000,
    100,
  );
}

async function launchLatency(portal, seeded) {
  const user = seeded.users[0];
  const portalMs = [];
  for (let i = 0; i < LAUNCHES; i++) {
    const t = performance.now();
    const lab = await launch(portal, user, seeded.templateId);
    await runCode(settingsFor(`${portal}${lab.url}`, user.token), 'print(6*7)');
    portalMs.push(performance.now() - t);
    await stop(portal, user, lab);
  }
  const docker = new Docker(sock(env.ENGINE));
  const bareMs = [];
  for (let i = 0; i < LAUNCHES; i++) {
    const token = randomBytes(24).toString('hex');
    const t = performance.now();
    const c = await docker.createContainer({
      Image: env.IMAGE,
      Env: [`RIGLAB_BASE_URL=/bench/`, `JUPYTER_TOKEN=${token}`],
      Labels: { 'org.riglab.deployment': deployment },
      HostConfig: { Init: true, Memory: 256 * 1024 * 1024, NanoCpus: 2e8 },
    });
    await c.start();
    const ip = (await c.inspect()).NetworkSettings.IPAddress;
    const base = `http://${ip}:8888/bench/`;
    await until(
      () => request('GET', `${base}api/status`, { Authorization: `token ${token}` }).then((r) => r.status),
      (s) => s === 200,
      60_000,
      50,
    );
    await runCode(settingsFor(base, token), 'print(6*7)');
    bareMs.push(performance.now() - t);
    await c.remove({ force: true });
  }
  return { portal: summarize(portalMs), bare: summarize(bareMs), overhead: pct(portalMs, 50) / pct(bareMs, 50) - 1 };
}

/** One block of the HTTP proxy table: each path's req/s and p99, then riglab against CHP. */
function printHttp(title, r) {
  console.log(title);
  for (const k of ['riglab', 'chp', 'direct'])
    console.log(
      `   ${k.padEnd(8)} ${r[k].rps.toFixed(0).padStart(40)} ${ms(r[k].p99).padStart(8)}${r[k].errors ? `  (${r[k].errors} errors)` : ''}`,
    );
  console.log(
    `   riglab / configurable-http-proxy: ${(r.riglab.rps / r.chp.rps).toFixed(2)}× req/s, p99 ${(r.riglab.p99 / r.chp.p99).toFixed(2)}×  (target ≥ 2× req/s, p99 ≤ 1×)`,
  );
}

const summarize = (xs) => ({ n: xs.length, p50: pct(xs, 50), p95: pct(xs, 95) });

async function cannon(url, headers) {
  // One second of warm-up first (JIT, connection pools), not counted: every path gets the same.
  await autocannon({ url, headers, connections: 20, duration: 1 });
  const r = await autocannon({ url, headers, connections: 20, duration: SECONDS });
  return { rps: r.requests.average, p99: r.latency.p99, errors: r.errors + r.non2xx };
}

async function wsRoundTrips(settings, n = 300) {
  const kernels = new KernelManager({ serverSettings: settings });
  await kernels.ready;
  const kernel = await kernels.startNew({ name: 'python3' });
  await until(
    async () => kernel.connectionStatus,
    (c) => c === 'connected',
    30_000,
    50,
  );
  await kernel.requestKernelInfo();
  const times = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await kernel.requestKernelInfo();
    times.push(performance.now() - t);
  }
  const elapsed = performance.now() - t0;
  await kernel.shutdown().catch(() => undefined);
  kernel.dispose();
  kernels.dispose();
  return { msgsPerS: (n / elapsed) * 1000, p99: pct(times, 99) };
}

async function proxyThroughput(portal, seeded, db) {
  const user = seeded.users[0];
  const lab = await launch(portal, user, seeded.templateId);
  const [row] = (await db.query(`SELECT endpoint FROM lab_sessions WHERE id = $1`, [lab.id])).rows;
  row.jupyter_token = require(join(ROOT, 'dist/api/src/modules/labs/lab-token')).labToken(LAB_TOKEN_KEY, lab.id);
  const jupyter = { Authorization: `token ${row.jupyter_token}` };
  const [port, apiPort] = [await freePort(), await freePort()];
  const chp = spawn(
    join(ROOT, 'node_modules', '.bin', 'configurable-http-proxy'),
    [
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--api-ip',
      '127.0.0.1',
      '--api-port',
      String(apiPort),
      '--default-target',
      row.endpoint,
      '--log-level',
      'error',
    ],
    { stdio: 'ignore' },
  );
  try {
    await until(
      () => request('GET', `http://127.0.0.1:${port}${lab.url}api/status`, jupyter).then((r) => r.status),
      (s) => s === 200,
      20_000,
      100,
    );
    const path = `${lab.url}api/status`;
    const http = {
      riglab: await cannon(`${portal}${path}`, { Authorization: `token ${user.token}` }),
      chp: await cannon(`http://127.0.0.1:${port}${path}`, jupyter),
      direct: await cannon(`${row.endpoint}${path}`, jupyter),
    };
    // The same three paths to a backend that is not the bottleneck (a bare Node HTTP server that
    // answers like api/status): what the proxies themselves cost. The lab's route is pointed at it.
    const fastPort = await freePort();
    const fast = spawn(
      process.execPath,
      [
        '-e',
        `require('http').createServer((q, s) => { s.writeHead(200, { 'content-type': 'application/json' }); s.end('{"started":"2026-01-01T00:00:00Z","last_activity":null,"connections":0,"kernels":0}'); }).listen(${fastPort}, '127.0.0.1')`,
      ],
      { stdio: 'ignore' },
    );
    let fastHttp;
    try {
      const fastUrl = `http://127.0.0.1:${fastPort}`;
      await until(
        () => request('GET', `${fastUrl}/`).then((r) => r.status),
        (s) => s === 200,
        10_000,
        50,
      );
      await db.query(`UPDATE lab_sessions SET endpoint = $2 WHERE id = $1`, [lab.id, fastUrl]);
      await fetch(`http://127.0.0.1:${apiPort}/api/routes/`, {
        method: 'POST',
        body: JSON.stringify({ target: fastUrl }),
      });
      // riglab caches a lab's route for a few seconds: wait until it answers from the fast backend.
      await until(
        () => request('GET', `${portal}${path}`, { Authorization: `token ${user.token}` }).then((r) => r.body),
        (b) => b?.started === '2026-01-01T00:00:00Z',
        20_000,
        250,
      );
      fastHttp = {
        riglab: await cannon(`${portal}${path}`, { Authorization: `token ${user.token}` }),
        chp: await cannon(`http://127.0.0.1:${port}${path}`, {}),
        direct: await cannon(`${fastUrl}${path}`, {}),
      };
    } finally {
      fast.kill();
      await db.query(`UPDATE lab_sessions SET endpoint = $2 WHERE id = $1`, [lab.id, row.endpoint]);
      await fetch(`http://127.0.0.1:${apiPort}/api/routes/`, {
        method: 'POST',
        body: JSON.stringify({ target: row.endpoint }),
      });
      await until(
        () => request('GET', `${portal}${path}`, { Authorization: `token ${user.token}` }).catch(() => ({ status: 0 })),
        (r) => r.status === 200 && r.body?.started !== '2026-01-01T00:00:00Z',
        20_000,
        250,
      );
    }
    const ws = {
      riglab: await wsRoundTrips(settingsFor(`${portal}${lab.url}`, user.token)),
      chp: await wsRoundTrips(settingsFor(`http://127.0.0.1:${port}${lab.url}`, row.jupyter_token)),
      direct: await wsRoundTrips(settingsFor(`${row.endpoint}${lab.url}`, row.jupyter_token)),
    };
    return { http, fastHttp, ws };
  } finally {
    chp.kill();
    await stop(portal, user, lab);
  }
}

async function burst(portal, seeded) {
  const users = seeded.users.slice(1, 1 + BURST);
  const apiMs = [];
  let launching = true;
  const prober = (async () => {
    while (launching) {
      const t = performance.now();
      await request('GET', `${portal}/api/labs`, { Authorization: `Bearer ${users[0].token}` });
      apiMs.push(performance.now() - t);
      await sleep(100);
    }
  })();
  const t0 = performance.now();
  const readyAt = [];
  const results = await Promise.allSettled(
    users.map((u) => launch(portal, u, seeded.templateId).then((lab) => (readyAt.push(performance.now() - t0), lab))),
  );
  launching = false;
  await prober;
  const labs = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
  await Promise.all(
    labs.map((lab, i) =>
      stop(portal, users[results.indexOf(results.filter((r) => r.status === 'fulfilled')[i])], lab).catch(
        () => undefined,
      ),
    ),
  );
  return {
    launches: users.length,
    ready: labs.length,
    failed: results
      .filter((r) => r.status === 'rejected')
      .map((r) => r.reason.message)
      .slice(0, 3),
    lastReadyS: readyAt.length ? Math.max(...readyAt) / 1000 : null,
    apiDuringBurst: { n: apiMs.length, p50: pct(apiMs, 50), p99: pct(apiMs, 99) },
  };
}

async function main() {
  const admin = new Client({ connectionString: env.PG_ADMIN_URL });
  await admin.connect();
  const dbName = `riglab_${deployment}`;
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = env.PG_ADMIN_URL.replace(/\/[^/]*$/, `/${dbName}`);
  const { createDataSource } = require(join(ROOT, 'dist/api/src/platform/db/data-source'));
  const ds = createDataSource(dbUrl);
  await ds.initialize();
  await ds.runMigrations();
  await ds.destroy();
  const db = new Client({ connectionString: dbUrl });
  await db.connect();
  const seeded = await seed(db);

  const port = await freePort();
  const portal = `http://127.0.0.1:${port}`;
  // BENCH_PORTAL_NODE_ARGS (e.g. --prof) shows where the portal's time goes under the benchmark's load.
  const nodeArgs = (env.BENCH_PORTAL_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawn(process.execPath, [...nodeArgs, join(ROOT, 'dist/api/src/main.js')], {
    env: {
      PATH: env.PATH,
      RIGLAB_ENV_FILE: '',
      RIGLAB_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: dbUrl,
      REDIS_URL: env.REDIS_URL,
      SESSION_SECRET: randomBytes(24).toString('hex'),
      // Known here, so the bench can talk to Jupyter directly with the lab's derived token.
      LAB_TOKEN_KEY,
      LOG_LEVEL: 'warn',
      DEPLOYMENT_ID: deployment,
      LAUNCH_CONCURRENCY: '500',
      // One portal process, like configurable-http-proxy (BENCH_PORTAL_PROCESSES=2 runs two).
      PORTAL_PROCESSES: PROCESSES,
      LAUNCH_TIMEOUT_S: '300',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const results = { machine: '2 cores, 24 GB (the build machine)', at: new Date().toISOString() };
  try {
    await until(
      () => request('GET', `${portal}/api/health`).then((r) => r.status),
      (s) => s === 200,
      30_000,
      200,
    );

    process.stderr.write(`launch latency: ${LAUNCHES} launches each, portal vs bare docker run…\n`);
    results.launch = await launchLatency(portal, seeded);
    const L = results.launch;
    console.log('\n1. Launch → kernel runs print(6*7)            p50        p95');
    console.log(
      `   riglab portal (API + proxy)           ${ms(L.portal.p50).padStart(8)} ${ms(L.portal.p95).padStart(10)}`,
    );
    console.log(
      `   bare docker run + direct kernel       ${ms(L.bare.p50).padStart(8)} ${ms(L.bare.p95).padStart(10)}`,
    );
    console.log(`   portal overhead at p50: ${(L.overhead * 100).toFixed(1)}%  (target ≤ 15%)`);

    process.stderr.write(`proxy: ${SECONDS}s of HTTP load per target, 300 WebSocket round trips each…\n`);
    results.proxy = await proxyThroughput(portal, seeded, db);
    const H = results.proxy.http;
    const W = results.proxy.ws;
    console.log(`\n2. Proxy (riglab: ${PROCESSES} portal process(es); configurable-http-proxy: one, as always)`);
    printHttp('   small HTTP to the lab (GET api/status, 20 connections) req/s      p99', H);
    console.log(`   riglab / direct: ${(H.riglab.rps / H.direct.rps).toFixed(2)}× req/s`);
    printHttp('   the same against a fast backend (bare Node server)    req/s      p99', results.proxy.fastHttp);
    console.log('   WebSocket kernel_info round trips                     msg/s      p99');
    for (const k of ['riglab', 'chp', 'direct'])
      console.log(`   ${k.padEnd(8)} ${W[k].msgsPerS.toFixed(0).padStart(40)} ${ms(W[k].p99).padStart(8)}`);
    console.log(`   riglab / configurable-http-proxy: ${(W.riglab.msgsPerS / W.chp.msgsPerS).toFixed(2)}× msg/s`);

    if (BURST > 0) {
      process.stderr.write(`burst: ${BURST} launches at once on two rigs…\n`);
      results.burst = await burst(portal, seeded);
      const B = results.burst;
      console.log(`\n3. ${B.launches} launches at once on the two-rig pool`);
      console.log(`   ready: ${B.ready}/${B.launches}; last ready after ${B.lastReadyS?.toFixed(1)} s`);
      console.log(
        `   GET /api/labs meanwhile: p50 ${ms(B.apiDuringBurst.p50)}, p99 ${ms(B.apiDuringBurst.p99)} (${B.apiDuringBurst.n} calls)`,
      );
      if (B.failed.length) console.log(`   failures: ${B.failed.join('; ')}`);
    }
    mkdirSync(join(__dirname, 'results'), { recursive: true });
    writeFileSync(
      join(__dirname, 'results', `bench-${results.at.slice(0, 19).replace(/:/g, '')}.json`),
      JSON.stringify(results, null, 2),
    );
  } finally {
    proc.kill('SIGTERM');
    await sleep(1500);
    for (const e of [env.ENGINE, env.RIG2]) {
      const d = new Docker(sock(e));
      const filters = JSON.stringify({ label: [`org.riglab.deployment=${deployment}`] });
      for (const c of await d.listContainers({ all: true, filters }))
        await d
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined);
      for (const v of (await d.listVolumes({ filters })).Volumes ?? [])
        await d
          .getVolume(v.Name)
          .remove({ force: true })
          .catch(() => undefined);
      for (const n of await d.listNetworks({ filters }))
        await d
          .getNetwork(n.Id)
          .remove()
          .catch(() => undefined);
    }
    await db.end();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench failed: ${err.stack ?? err}`);
    process.exit(1);
  },
);
