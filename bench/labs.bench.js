// Launch benchmarks (issues 3 and 10), each side by side with its baseline or target in one run:
//   1. launch overhead against a bare `docker run` of the same image, warm (image on the rig) and cold
//      (pulled from a registry on loopback first);
//   2. a class start: N students sign in through SSO (the portal's development IdP) and launch at once
//      on a two-rig pool: time to all ready, failures, API p99 meanwhile, the portal's CPU and memory;
//   3. the control plane's footprint with 150 labs running.
// Run with `npm run bench` (bench/run.sh brings up the services). Knobs: BENCH_LAUNCHES (samples per
// side, warm 6 / cold half of it), BENCH_CLASS (class sizes, "50,100"), BENCH_FOOTPRINT_LABS (150),
// BENCH_FOOTPRINT_S (seconds measured with them running, 60).
'use strict';
const { randomBytes } = require('node:crypto');
const { mkdirSync, mkdtempSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { KernelManager, ServerConnection } = require('@jupyterlab/services');
const b = require('./lib');

// @jupyterlab/services narrates every WebSocket (re)connection; keep the report readable.
console.debug = () => undefined;
const warn = console.warn;
console.warn = (...a) => (/^Connection lost/.test(String(a[0])) ? undefined : warn(...a));
const env = process.env;
const LAUNCHES = Number(env.BENCH_LAUNCHES ?? 6);
const COLD_LAUNCHES = Math.max(1, Math.ceil(LAUNCHES / 2));
const CLASSES = (env.BENCH_CLASS ?? '50,100').split(',').map(Number).filter(Boolean);
const FOOTPRINT_LABS = Number(env.BENCH_FOOTPRINT_LABS ?? 150);
const FOOTPRINT_S = Number(env.BENCH_FOOTPRINT_S ?? 60);
const deployment = `bench${randomBytes(3).toString('hex')}`;
const { ms, pct } = b;
const s1 = (x) => `${(x / 1000).toFixed(1)} s`;

const settingsFor = (base, token) =>
  ServerConnection.makeSettings({ baseUrl: base, wsUrl: base.replace(/^http/, 'ws'), token, appendToken: true });

/** What a student does first in a new notebook: a kernel runs print(6*7). */
async function runCode(settings) {
  const kernels = new KernelManager({ serverSettings: settings });
  await kernels.ready;
  const kernel = await kernels.startNew({ name: 'python3' });
  let out = '';
  const future = kernel.requestExecute({ code: 'print(6*7)' });
  future.onIOPub = (msg) => {
    if (msg.header.msg_type === 'stream') out += msg.content.text;
  };
  await future.done;
  await kernel.shutdown().catch(() => undefined);
  kernel.dispose();
  kernels.dispose();
  if (out.trim() !== '42') throw new Error(`kernel printed ${JSON.stringify(out)}`);
}

/** Only these rigs take launches (the others are put in maintenance). */
async function onlyRigs(q, names) {
  await q(
    `UPDATE rigs SET state = CASE WHEN name = ANY($1) THEN 'active'::rig_state ELSE 'maintenance'::rig_state END`,
    [names],
  );
}

/** Follows a pull to its end (an error line fails it). */
async function pull(docker, image) {
  const stream = await docker.pull(image);
  await new Promise((resolve, reject) =>
    docker.modem.followProgress(stream, (err, out) =>
      err ? reject(err) : out.find((o) => o.error) ? reject(new Error(out.find((o) => o.error).error)) : resolve(),
    ),
  );
}

/** The rig forgets the image and every layer of it, so the next start pulls it all. */
async function forget(docker, image) {
  await docker
    .getImage(image)
    .remove({ force: true })
    .catch(() => undefined);
  await docker.pruneImages({ filters: JSON.stringify({ dangling: ['false'] }) }).catch(() => undefined);
}

/**
 * Request → the kernel prints 42 through the portal, against the baseline: `docker run` of the same
 * image (same limits, init) and the same kernel check straight at the container. Cold: the image is
 * removed from the rig before every sample on both sides, so each pulls it from the registry first.
 */
async function launchOverhead(portal, user, templateId, { endpoint, image, cold, n }) {
  const docker = b.dockerAt(endpoint);
  const portalMs = [];
  const portalReadyMs = [];
  const bareMs = [];
  for (let i = 0; i < n; i++) {
    // Alternate the two sides so that a slow moment of the machine falls on both.
    if (cold) await forget(docker, image);
    let t = performance.now();
    const lab = await b.launch(portal, user.auth, templateId, { everyMs: 50 });
    portalReadyMs.push(performance.now() - t);
    await runCode(settingsFor(`${portal}${lab.url}`, user.token));
    portalMs.push(performance.now() - t);
    await b.stopLab(portal, user.auth, lab);

    if (cold) await forget(docker, image);
    const token = randomBytes(24).toString('hex');
    t = performance.now();
    if (cold) await pull(docker, image);
    const c = await docker.createContainer({
      Image: image,
      Env: [`RIGLAB_BASE_URL=/bench/`, `JUPYTER_TOKEN=${token}`],
      Labels: { 'org.riglab.deployment': deployment },
      // The template's limits: 0.2 CPU, 256 MB (bench/lib.js seedCourse).
      HostConfig: { Init: true, Memory: 256 * 1024 * 1024, NanoCpus: 2e8 },
    });
    await c.start();
    const ip = (await c.inspect()).NetworkSettings.IPAddress;
    const base = `http://${ip}:8888/bench/`;
    await b.until(
      () => b.request('GET', `${base}api/status`, { Authorization: `token ${token}` }).then((r) => r.status),
      (s) => s === 200,
      60_000,
      50,
    );
    await runCode(settingsFor(base, token));
    bareMs.push(performance.now() - t);
    await c.remove({ force: true });
  }
  const ratio = pct(portalMs, 50) / pct(bareMs, 50);
  return {
    portal: b.summarize(portalMs),
    portalReady: b.summarize(portalReadyMs),
    bare: b.summarize(bareMs),
    ratio,
    target: 1.15,
    met: ratio <= 1.15,
  };
}

const unescape = (s) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
const formOf = (html) => ({
  action: unescape(/<form[^>]*action="([^"]*)"/.exec(html)?.[1] ?? ''),
  fields: Object.fromEntries(
    [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1], unescape(m[2])]),
  ),
});

/** The whole SAML sign-in as a browser does it: portal → IdP page → IdP form → ACS; returns session headers. */
async function signIn(portal, username) {
  const start = await fetch(`${portal}/auth/saml/login?next=/`, { redirect: 'manual' });
  if (start.status !== 302) throw new Error(`sign-in start: ${start.status}`);
  const idp = formOf(await (await fetch(start.headers.get('location'))).text());
  const answered = await fetch(idp.action, {
    method: 'POST',
    body: new URLSearchParams({ ...idp.fields, username, password: 'demo' }),
  });
  const post = formOf(await answered.text());
  if (!post.fields.SAMLResponse) throw new Error(`the IdP did not sign ${username} in (HTTP ${answered.status})`);
  const acs = await fetch(post.action, { method: 'POST', body: new URLSearchParams(post.fields), redirect: 'manual' });
  if (acs.status !== 303) throw new Error(`the ACS answered ${acs.status}`);
  const cookie = (acs.headers.get('set-cookie') ?? '').split(';')[0];
  const me = await b.request('GET', `${portal}/api/me`, { cookie });
  return { cookie, 'X-CSRF-Token': me.body.csrfToken };
}

/**
 * N students sign in through SSO and launch at once; the clock starts before the first sign-in. A
 * prober asks GET /api/labs every 100 ms meanwhile, as the students' pages do.
 */
async function classStart(portal, portalPid, templateId, n) {
  const names = Array.from({ length: n }, (_, i) => `student-${i + 1}`);
  const watch = b.watchProcess(portalPid);
  const apiMs = [];
  let running = true;
  const prober = (async () => {
    const auth = await signIn(portal, 'student-9999');
    while (running) {
      const t = performance.now();
      await b.request('GET', `${portal}/api/labs`, auth).catch(() => undefined);
      apiMs.push(performance.now() - t);
      await b.sleep(100);
    }
  })();
  const t0 = performance.now();
  const signedInAt = [];
  const readyAt = [];
  const results = await Promise.allSettled(
    names.map(async (name) => {
      const auth = await signIn(portal, name);
      signedInAt.push(performance.now() - t0);
      const lab = await b.launch(portal, auth, templateId, { timeoutMs: 900_000 });
      readyAt.push(performance.now() - t0);
      return { auth, lab };
    }),
  );
  running = false;
  await prober;
  const usage = watch();
  const ok = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
  const failed = results.filter((r) => r.status === 'rejected').map((r) => r.reason.message);
  await Promise.all(ok.map(({ auth, lab }) => b.stopLab(portal, auth, lab).catch(() => undefined)));
  return {
    students: n,
    ready: ok.length,
    failed: failed.length,
    failures: [...new Set(failed)].slice(0, 5),
    allSignedInS: signedInAt.length ? Math.max(...signedInAt) / 1000 : null,
    allReadyS: readyAt.length ? Math.max(...readyAt) / 1000 : null,
    readyP50S: readyAt.length ? pct(readyAt, 50) / 1000 : null,
    api: { calls: apiMs.length, p50: pct(apiMs, 50), p99: pct(apiMs, 99) },
    portal: usage,
  };
}

/** The control plane with `n` labs running: the portal's CPU and memory over FOOTPRINT_S seconds. */
async function footprint(portal, portalPid, students, templateId, endpoints) {
  const t0 = performance.now();
  const results = await Promise.allSettled(
    students.map((u) => b.launch(portal, u.auth, templateId, { timeoutMs: 900_000 })),
  );
  const startedS = (performance.now() - t0) / 1000;
  const labs = results.map((r, i) => (r.status === 'fulfilled' ? { user: students[i], lab: r.value } : null));
  const running = labs.filter(Boolean);
  const failures = [...new Set(results.filter((r) => r.status === 'rejected').map((r) => r.reason.message))];
  await b.sleep(10_000); // the launches' own work done: measure the steady state
  let containers = 0;
  const filters = JSON.stringify({ label: [`org.riglab.deployment=${deployment}`], status: ['running'] });
  for (const e of endpoints) containers += (await b.dockerAt(e).listContainers({ filters })).length;
  const watch = b.watchProcess(portalPid);
  await b.sleep(FOOTPRINT_S * 1000);
  const usage = watch();
  await Promise.all(running.map(({ user, lab }) => b.stopLab(portal, user.auth, lab).catch(() => undefined)));
  return {
    labs: students.length,
    running: running.length,
    containers,
    startedS,
    failures: failures.slice(0, 5),
    portal: usage,
    target: { rssMb: 300, cores: 0.25 },
    met: usage.rssPeakMb <= 300 && usage.cores <= 0.25,
  };
}

async function main() {
  const { url: dbUrl, q, drop } = await b.freshDatabase(env.PG_ADMIN_URL, deployment);
  const rigs = { 'rig-a': env.ENGINE, 'rig-b': env.RIG2, ...(env.COLD_RIG ? { 'rig-cold': env.COLD_RIG } : {}) };
  await b.seedRigs(q, rigs);
  // CS101 (2026F) is the course the development IdP's class belongs to.
  const warm = await b.seedCourse(q, { code: 'CS101', term: '2026F', image: env.IMAGE });
  const cold = env.REGISTRY_IMAGE
    ? await b.seedCourse(q, { code: 'COLD', term: '2026F', image: env.REGISTRY_IMAGE })
    : null;
  const [solo] = await b.seedStudents(q, warm.courseId, 1, 'solo');
  if (cold)
    await q(`INSERT INTO enrollments (user_id, course_id, role) VALUES ($1, $2, 'student')`, [solo.id, cold.courseId]);
  const crowd = FOOTPRINT_LABS > 0 ? await b.seedStudents(q, warm.courseId, FOOTPRINT_LABS, 'f') : [];

  const portal = await b.startPortal({
    dbUrl,
    redisUrl: env.REDIS_URL,
    deployment,
    vars: {
      // The development IdP (the class's SSO) runs only outside production; nothing else differs.
      RIGLAB_ENV: 'development',
      DEV_IDP: 'true',
      SAML_KEY_DIR: mkdtempSync(join(tmpdir(), 'riglab-bench-saml-')),
      // Every student of the bench signs in from one address; a campus spreads them over many.
      SIGN_IN_RATE_PER_MINUTE: '10000',
      LAUNCH_TIMEOUT_S: '900',
      PORTAL_PROCESSES: '1',
    },
  });
  const results = { machine: b.MACHINE(), at: new Date().toISOString() };
  const endpoints = Object.values(rigs);
  try {
    process.stderr.write(`launch overhead: ${LAUNCHES} warm launches each, portal vs bare docker run…\n`);
    await onlyRigs(q, ['rig-a']);
    results.warm = await launchOverhead(portal.url, solo, warm.templateId, {
      endpoint: env.ENGINE,
      image: env.IMAGE,
      cold: false,
      n: LAUNCHES,
    });
    if (cold) {
      process.stderr.write(`launch overhead: ${COLD_LAUNCHES} cold launches each (image pulled first)…\n`);
      await onlyRigs(q, ['rig-cold']);
      results.cold = await launchOverhead(portal.url, solo, cold.templateId, {
        endpoint: env.COLD_RIG,
        image: env.REGISTRY_IMAGE,
        cold: true,
        n: COLD_LAUNCHES,
      });
    }
    console.log('\n1. Launch → kernel runs print(6*7)                 p50        p95     ratio (target ≤ 1.15×)');
    for (const [k, L] of Object.entries({ warm: results.warm, cold: results.cold })) {
      if (!L) continue;
      console.log(
        `   ${k.padEnd(4)} riglab portal (API + proxy)      ${ms(L.portal.p50).padStart(8)} ${ms(L.portal.p95).padStart(10)}`,
      );
      console.log(
        `   ${k.padEnd(4)} bare docker ${k === 'cold' ? 'pull + run' : 'run       '}           ${ms(L.bare.p50).padStart(8)} ${ms(L.bare.p95).padStart(10)}     ${L.ratio.toFixed(3)}× ${L.met ? 'met' : 'NOT met'}`,
      );
    }

    await onlyRigs(q, ['rig-a', 'rig-b']);
    results.classStart = [];
    for (const n of CLASSES) {
      process.stderr.write(`class start: ${n} students sign in through SSO and launch at once on two rigs…\n`);
      results.classStart.push(await classStart(portal.url, portal.pid, warm.templateId, n));
    }
    console.log(
      '\n2. Class start through SSO on two rigs   ready   all signed in   all ready   API p99   portal CPU   RSS peak',
    );
    for (const c of results.classStart)
      console.log(
        `   ${String(c.students).padStart(3)} students                        ${`${c.ready}/${c.students}`.padStart(7)} ${s1(c.allSignedInS * 1000).padStart(15)} ${s1(c.allReadyS * 1000).padStart(11)} ${ms(c.api.p99).padStart(9)} ${`${c.portal.cores.toFixed(2)} core`.padStart(12)} ${`${c.portal.rssPeakMb.toFixed(0)} MB`.padStart(10)}${c.failed ? `\n      failures: ${c.failures.join('; ')}` : ''}`,
      );

    if (FOOTPRINT_LABS > 0) {
      process.stderr.write(`footprint: ${FOOTPRINT_LABS} labs running, ${FOOTPRINT_S} s measured…\n`);
      results.footprint = await footprint(portal.url, portal.pid, crowd, warm.templateId, endpoints);
      const F = results.footprint;
      console.log(
        `\n3. Footprint with ${F.running}/${F.labs} labs running (${F.containers} containers; started in ${F.startedS.toFixed(0)} s)`,
      );
      console.log(
        `   portal: ${F.portal.cores.toFixed(3)} core, RSS peak ${F.portal.rssPeakMb.toFixed(0)} MB (mean ${F.portal.rssMeanMb.toFixed(0)}) over ${F.portal.seconds.toFixed(0)} s  (target ≤ 0.25 core, ≤ 300 MB: ${F.met ? 'met' : 'NOT met'})`,
      );
      if (F.failures.length) console.log(`   failures: ${F.failures.join('; ')}`);
    }
    mkdirSync(join(__dirname, 'results'), { recursive: true });
    writeFileSync(
      join(__dirname, 'results', `labs-${results.at.slice(0, 19).replace(/:/g, '')}.json`),
      JSON.stringify(results, null, 2),
    );
  } finally {
    await portal.stop();
    await b.cleanEngines(endpoints, deployment);
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
