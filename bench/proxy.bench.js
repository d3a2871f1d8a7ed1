// Notebook proxy benchmark, side by side in one run: riglab's proxy vs configurable-http-proxy (CHP,
// JupyterHub's proxy, from npm) vs direct, on the same lab:
//   - HTTP to a fast backend (a bare Node server the lab's route is pointed at, in riglab and in CHP
//     alike): a small JSON answer (like GET api/status) and a 1 MB body, each at 10 and 50 connections;
//   - the small GET to the lab's real Jupyter at 10 connections (Jupyter is the ceiling there);
//   - WebSocket round trips of a small message to an echo server on the fast backend, 10 and 50 sockets;
//   - WebSocket kernel_info round trips through the lab's real kernel (one socket; the kernel is the ceiling).
// Target per row: riglab ≥ 2× CHP's requests (messages)/s with p99 no worse.
// Env: PG_ADMIN_URL, REDIS_URL, ENGINE (docker endpoint), IMAGE (lab image); knobs: BENCH_SECONDS (per
// load, 5; plus 1 s of warm-up not counted), BENCH_WS_ROUNDS (echo round trips per row, 20000),
// BENCH_KERNEL_ROUNDS (kernel_info round trips, 300), BENCH_PORTAL_PROCESSES (1),
// BENCH_PORTAL_NODE_ARGS (e.g. --prof, for the portal process), BENCH_ONLY (a regular expression: only
// the rows whose names match, e.g. "1 MB").
// The 1 MB rows use a load generator of undici's (below), not autocannon: autocannon's HTTP parser
// (http-parser-js) reads bodies at ~60 MB/s on the build machine, far below what any path delivers.
// `node bench/proxy.bench.js --backend <port>` is the fast backend itself (started by the bench).
'use strict';
const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { mkdirSync, writeFileSync } = require('node:fs');
const http = require('node:http');
const { join } = require('node:path');

const SMALL = '{"started":"2026-01-01T00:00:00Z","last_activity":null,"connections":0,"kernels":0}';
const BIG_BYTES = 1024 * 1024;

/** The fast backend: small JSON on every path, 1 MB on paths ending in /big, and a WebSocket echo. */
function backend(port) {
  const { WebSocketServer } = require('ws');
  const big = randomBytes(BIG_BYTES);
  const server = http.createServer((req, res) => {
    if (req.url.endsWith('/big')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(big.length) });
      return void res.end(big);
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(SMALL.length) });
    res.end(SMALL);
  });
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
  server.listen(port, '127.0.0.1');
}
if (process.argv[2] === '--backend') {
  backend(Number(process.argv[3]));
  return;
}

const autocannon = require('autocannon');
const { Pool } = require('undici');
const WebSocket = require('ws');
const { KernelManager, ServerConnection } = require('@jupyterlab/services');
const b = require('./lib');

// @jupyterlab/services narrates every WebSocket (re)connection; keep the report readable.
console.debug = () => undefined;
const warn = console.warn;
console.warn = (...a) => (/^Connection lost/.test(String(a[0])) ? undefined : warn(...a));
const env = process.env;
const SECONDS = Number(env.BENCH_SECONDS ?? 5);
const WS_ROUNDS = Number(env.BENCH_WS_ROUNDS ?? 20_000);
const KERNEL_ROUNDS = Number(env.BENCH_KERNEL_ROUNDS ?? 300);
const PROCESSES = env.BENCH_PORTAL_PROCESSES ?? '1';
const NODE_ARGS = (env.BENCH_PORTAL_NODE_ARGS ?? '').split(' ').filter(Boolean);
const LAB_TOKEN_KEY = randomBytes(32).toString('hex');
const deployment = `benchp${randomBytes(3).toString('hex')}`;
const ONLY = new RegExp(env.BENCH_ONLY ?? '');
const PATHS = ['riglab', 'chp', 'direct'];
const TARGET = { rate: 2, p99: 1 };

const settingsFor = (base, token) =>
  ServerConnection.makeSettings({ baseUrl: base, wsUrl: base.replace(/^http/, 'ws'), token, appendToken: true });

/** autocannon at `connections`, one second of warm-up first (JIT, pools), not counted: every path alike. */
async function cannon(url, headers, connections) {
  await autocannon({ url, headers, connections, duration: 1 });
  const r = await autocannon({ url, headers, connections, duration: SECONDS });
  return {
    rate: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    mbPerS: r.throughput.average / 2 ** 20,
    errors: r.errors + r.timeouts + r.non2xx,
  };
}

/**
 * Bulk bodies: `connections` kept-alive connections (undici's pool), each asking again as soon as an
 * answer has been read to its end; the bytes are counted and dropped. Warm-up of 1 s first, not counted.
 */
async function bulk(url, headers, connections) {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections, pipelining: 1 });
  const stats = { n: 0, bytes: 0, errors: 0, times: [] };
  const one = (counted) =>
    new Promise((resolve) => {
      const t = performance.now();
      let status = 0;
      let bytes = 0;
      pool.dispatch(
        { path: u.pathname + u.search, method: 'GET', headers },
        {
          onRequestStart: () => undefined,
          onResponseStart: (_c, s) => void (status = s),
          onResponseData: (_c, chunk) => void (bytes += chunk.length),
          onResponseEnd: () => {
            if (counted) {
              stats.times.push(performance.now() - t);
              stats.bytes += bytes;
              stats.n++;
              if (status !== 200) stats.errors++;
            }
            resolve();
          },
          onResponseError: () => {
            if (counted) stats.errors++;
            resolve();
          },
        },
      );
    });
  const run = async (seconds, counted) => {
    const end = performance.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (performance.now() < end) await one(counted);
      }),
    );
  };
  try {
    await run(1, false);
    const t0 = performance.now();
    await run(SECONDS, true);
    const elapsed = (performance.now() - t0) / 1000;
    return {
      rate: stats.n / elapsed,
      p50: b.pct(stats.times, 50),
      p99: b.pct(stats.times, 99),
      mbPerS: stats.bytes / 2 ** 20 / elapsed,
      errors: stats.errors,
    };
  } finally {
    await pool.close();
  }
}

function openWs(url, headers) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** `n` round trips on one socket, one message in flight at a time; latencies pushed to `times`. */
function rounds(ws, n, msg, times) {
  return new Promise((resolve, reject) => {
    let i = 0;
    let t = 0;
    const send = () => {
      t = performance.now();
      ws.send(msg);
    };
    const done = (err) => {
      ws.off('message', onMessage);
      ws.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onMessage = () => {
      times?.push(performance.now() - t);
      if (++i >= n) done();
      else send();
    };
    const onClose = () => done(new Error(`socket closed after ${i}/${n} round trips`));
    ws.on('message', onMessage);
    ws.once('close', onClose);
    send();
  });
}

/** WS_ROUNDS round trips of a small message spread over `sockets` sockets at once (after a warm-up). */
async function wsEcho(url, headers, sockets) {
  const msg = JSON.stringify({ header: { msg_id: randomBytes(8).toString('hex'), msg_type: 'echo' }, content: {} });
  const conns = await Promise.all(Array.from({ length: sockets }, () => openWs(url, headers)));
  const per = Math.ceil(WS_ROUNDS / sockets);
  let errors = 0;
  try {
    await Promise.all(conns.map((ws) => rounds(ws, Math.min(200, per), msg, null)));
    const times = [];
    const t0 = performance.now();
    const ended = await Promise.allSettled(conns.map((ws) => rounds(ws, per, msg, times)));
    const elapsed = performance.now() - t0;
    errors = ended.filter((e) => e.status === 'rejected').length;
    return {
      rate: (times.length / elapsed) * 1000,
      p50: b.pct(times, 50),
      p99: b.pct(times, 99),
      n: times.length,
      errors,
    };
  } finally {
    for (const ws of conns) ws.terminate();
  }
}

/** kernel_info round trips through a real kernel of the lab (one socket), as the launch bench does. */
async function kernelRoundTrips(settings) {
  const kernels = new KernelManager({ serverSettings: settings });
  await kernels.ready;
  const kernel = await kernels.startNew({ name: 'python3' });
  try {
    await b.until(
      async () => kernel.connectionStatus,
      (c) => c === 'connected',
      30_000,
      50,
    );
    await kernel.requestKernelInfo();
    const times = [];
    const t0 = performance.now();
    for (let i = 0; i < KERNEL_ROUNDS; i++) {
      const t = performance.now();
      await kernel.requestKernelInfo();
      times.push(performance.now() - t);
    }
    const elapsed = performance.now() - t0;
    return { rate: (KERNEL_ROUNDS / elapsed) * 1000, p50: b.pct(times, 50), p99: b.pct(times, 99), errors: 0 };
  } finally {
    await kernel.shutdown().catch(() => undefined);
    kernel.dispose();
    kernels.dispose();
  }
}

/** One row: the three paths, riglab against CHP, and whether the target is met (`applies`: not capped by Jupyter). */
function row(name, unit, r, bound) {
  const ratio = { rate: r.riglab.rate / r.chp.rate, p99: r.chp.p99 > 0 ? r.riglab.p99 / r.chp.p99 : NaN };
  const met = {
    rate: ratio.rate >= TARGET.rate,
    p99: r.riglab.p99 <= r.chp.p99,
    applies: !bound,
  };
  met.all = met.rate && met.p99;
  return { name, unit, ...r, ratio, target: { rateVsChp: TARGET.rate, p99VsChp: TARGET.p99 }, bound, met };
}

const n0 = (x) => x.toFixed(0);
const lat = (x) => (x < 10 ? x.toFixed(1) : x.toFixed(0));
function printTable(rows) {
  const head = `${'row'.padEnd(34)} ${'riglab'.padStart(15)} ${'CHP'.padStart(15)} ${'direct'.padStart(15)}   riglab/CHP rate   p99   target (≥ 2×, p99 ≤ 1×)`;
  console.log(head);
  console.log(
    `${''.padEnd(34)} ${'rate   p99 ms'.padStart(15)} ${'rate   p99 ms'.padStart(15)} ${'rate   p99 ms'.padStart(15)}`,
  );
  for (const r of rows) {
    const cell = (k) => `${n0(r[k].rate).padStart(7)} ${lat(r[k].p99).padStart(7)}`;
    const err = PATHS.filter((k) => r[k].errors).map((k) => `${k} ${r[k].errors} errors`);
    const verdict = r.bound
      ? `— ${r.bound} is the ceiling`
      : `${r.met.rate ? 'met' : 'NOT met'} / ${r.met.p99 ? 'met' : 'NOT met'}`;
    console.log(
      `${r.name.padEnd(34)} ${cell('riglab')} ${cell('chp')} ${cell('direct')}   ${`${r.ratio.rate.toFixed(2)}×`.padStart(15)} ${`${Number.isNaN(r.ratio.p99) ? '—' : r.ratio.p99.toFixed(2)}×`.padStart(6)}   ${verdict}${err.length ? `  (${err.join(', ')})` : ''}`,
    );
  }
}

async function main() {
  const { url: dbUrl, q, drop } = await b.freshDatabase(env.PG_ADMIN_URL, deployment);
  const children = [];
  const spawnChild = (cmd, args, opts) => {
    const c = spawn(cmd, args, { stdio: 'ignore', ...opts });
    children.push(c);
    return c;
  };
  let portal;
  let restore = async () => undefined;
  try {
    await b.seedRigs(q, { 'rig-a': env.ENGINE });
    const { courseId, templateId } = await b.seedCourse(q, { code: 'BENCHP', term: '2026F', image: env.IMAGE });
    const [user] = await b.seedStudents(q, courseId, 1);
    portal = await b.startPortal({
      dbUrl,
      redisUrl: env.REDIS_URL,
      deployment,
      vars: { LAB_TOKEN_KEY, PORTAL_PROCESSES: PROCESSES },
      nodeArgs: NODE_ARGS,
    });
    process.stderr.write('launching a lab…\n');
    const lab = await b.launch(portal.url, user.auth, templateId);
    const [{ endpoint }] = await q(`SELECT endpoint FROM lab_sessions WHERE id = $1`, [lab.id]);
    const jupyterToken = require(join(b.ROOT, 'dist/api/src/modules/labs/lab-token')).labToken(LAB_TOKEN_KEY, lab.id);
    const jupyter = { Authorization: `token ${jupyterToken}` };
    const riglabAuth = { Authorization: `token ${user.token}` };

    const [chpPort, chpApiPort, fastPort] = [await b.freePort(), await b.freePort(), await b.freePort()];
    const chpAuth = randomBytes(16).toString('hex');
    spawnChild(
      join(b.ROOT, 'node_modules', '.bin', 'configurable-http-proxy'),
      [
        ...['--ip', '127.0.0.1', '--port', String(chpPort), '--api-ip', '127.0.0.1', '--api-port', String(chpApiPort)],
        ...['--default-target', endpoint, '--log-level', 'error'],
      ],
      { env: { ...process.env, CONFIGPROXY_AUTH_TOKEN: chpAuth } },
    );
    const chpUrl = `http://127.0.0.1:${chpPort}`;
    const chpRoute = (target) =>
      fetch(`http://127.0.0.1:${chpApiPort}/api/routes/`, {
        method: 'POST',
        headers: { Authorization: `token ${chpAuth}` },
        body: JSON.stringify({ target }),
      });
    const status = `${lab.url}api/status`;
    await b.until(
      () => b.request('GET', `${chpUrl}${status}`, jupyter).then((r) => r.status),
      (s) => s === 200,
      20_000,
      100,
    );
    const base = { riglab: portal.url, chp: chpUrl, direct: endpoint };
    const auth = { riglab: riglabAuth, chp: jupyter, direct: jupyter };
    const rows = [];

    // 1. The lab's real Jupyter (its own ceiling), and its kernel over WebSocket.
    process.stderr.write(`proxy: ${SECONDS} s of HTTP load per path and row (+1 s warm-up)…\n`);
    if (ONLY.test('Jupyter GET api/status, 10 conns')) {
      const jr = {};
      for (const k of PATHS) jr[k] = await cannon(`${base[k]}${status}`, auth[k], 10);
      rows.push(row('Jupyter GET api/status, 10 conns', 'req/s', jr, 'Jupyter'));
    }
    let kernelRow;
    if (ONLY.test('kernel_info WS, 1 socket')) {
      process.stderr.write(`proxy: ${KERNEL_ROUNDS} kernel_info round trips per path…\n`);
      const kr = {
        riglab: await kernelRoundTrips(settingsFor(`${portal.url}${lab.url}`, user.token)),
        chp: await kernelRoundTrips(settingsFor(`${chpUrl}${lab.url}`, jupyterToken)),
        direct: await kernelRoundTrips(settingsFor(`${endpoint}${lab.url}`, jupyterToken)),
      };
      kernelRow = row('kernel_info WS, 1 socket', 'msg/s', kr, 'the kernel');
    }

    // 2. The lab's route (riglab's and CHP's) pointed at the fast backend.
    spawnChild(process.execPath, [__filename, '--backend', String(fastPort)]);
    const fastUrl = `http://127.0.0.1:${fastPort}`;
    await b.until(
      () => b.request('GET', `${fastUrl}/`).then((r) => r.status),
      (s) => s === 200,
      10_000,
      50,
    );
    restore = async () => {
      await q(`UPDATE lab_sessions SET endpoint = $2 WHERE id = $1`, [lab.id, endpoint]);
    };
    await q(`UPDATE lab_sessions SET endpoint = $2 WHERE id = $1`, [lab.id, fastUrl]);
    await chpRoute(fastUrl);
    const fromFast = (r) => r.body?.started === '2026-01-01T00:00:00Z';
    // riglab caches a lab's route for a few seconds: wait until both answer from the fast backend.
    await b.until(() => b.request('GET', `${portal.url}${status}`, riglabAuth), fromFast, 20_000, 250);
    await b.until(() => b.request('GET', `${chpUrl}${status}`, {}), fromFast, 20_000, 100);
    base.direct = fastUrl;
    for (const [name, path] of [
      ['small', status],
      ['1 MB', `${lab.url}big`],
    ])
      for (const conns of [10, 50]) {
        const label = `fast HTTP ${name}, ${conns} conns`;
        if (!ONLY.test(label)) continue;
        const load = name === 'small' ? cannon : bulk;
        const r = {};
        for (const k of PATHS) r[k] = await load(`${base[k]}${path}`, auth[k], conns);
        rows.push(row(label, 'req/s', r));
      }
    process.stderr.write(`proxy: ${WS_ROUNDS} WebSocket echo round trips per path and row…\n`);
    const wsPath = `${lab.url}api/kernels/echo/channels`;
    for (const sockets of [10, 50]) {
      if (!ONLY.test(`fast WS echo, ${sockets} sockets`)) continue;
      const r = {};
      for (const k of PATHS) r[k] = await wsEcho(`${base[k].replace(/^http/, 'ws')}${wsPath}`, auth[k], sockets);
      rows.push(row(`fast WS echo, ${sockets} sockets`, 'msg/s', r));
    }
    if (kernelRow) rows.push(kernelRow);

    const results = {
      machine: b.MACHINE(),
      at: new Date().toISOString(),
      seconds: SECONDS,
      wsRounds: WS_ROUNDS,
      kernelRounds: KERNEL_ROUNDS,
      portalProcesses: Number(PROCESSES),
      rows,
    };
    console.log(
      `\nNotebook proxy — riglab (${PROCESSES} portal process(es)) vs configurable-http-proxy (one) vs direct; ${SECONDS} s per HTTP load; ${b.MACHINE()}`,
    );
    printTable(rows);
    mkdirSync(join(__dirname, 'results'), { recursive: true });
    const file = join(__dirname, 'results', `proxy-${results.at.slice(0, 19).replace(/:/g, '')}.json`);
    writeFileSync(file, JSON.stringify(results, null, 2));
    process.stderr.write(`written: bench/results/${file.split('/').pop()}\n`);
    await restore();
    await b.stopLab(portal.url, user.auth, lab).catch(() => undefined);
  } finally {
    await restore().catch(() => undefined);
    for (const c of children) c.kill();
    await portal?.stop();
    await b.cleanEngines([env.ENGINE], deployment).catch(() => undefined);
    await drop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench failed: ${err.stack ?? err}`);
    process.exit(1);
  },
);
