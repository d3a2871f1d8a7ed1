// One summary of the newest bench results (bench/results/*.json) with the machine they ran on, written to
// bench/results/summary.md and printed; the last step of `npm run bench`. ENGINE (optional) names the
// Docker engine whose version is reported.
'use strict';
const { execFileSync } = require('node:child_process');
const { existsSync, readdirSync, readFileSync, statSync, writeFileSync } = require('node:fs');
const { cpus, release, totalmem } = require('node:os');
const { join } = require('node:path');

const dir = join(__dirname, 'results');
const newest = (prefix) => {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('.json')) : [];
  files.sort((a, b) => statSync(join(dir, b)).mtimeMs - statSync(join(dir, a)).mtimeMs);
  return files[0] ? { file: files[0], data: JSON.parse(readFileSync(join(dir, files[0]), 'utf8')) } : null;
};
let docker = 'unknown';
try {
  const e = process.env.ENGINE;
  const args = e ? ['-H', e.startsWith('/') ? `unix://${e}` : e] : [];
  docker = execFileSync('docker', [...args, 'version', '--format', '{{.Server.Version}}'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  }).trim();
} catch {
  // no engine reachable: reported as unknown
}
const out = [
  '# riglab bench summary',
  '',
  `- date: ${new Date().toISOString()}`,
  `- CPU: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores`,
  `- RAM: ${(totalmem() / 2 ** 30).toFixed(1)} GiB; kernel ${release()}; node ${process.version}; docker ${docker}`,
  '',
  '| figure | value | target | met |',
  '| --- | --- | --- | --- |',
];
const ms = (x) => `${x.toFixed(2)} ms`;
const p = newest('placement-');
if (p) {
  const d = p.data;
  const s = `${d.setup.rigs} rigs / ${d.setup.gpus} GPUs / ${d.setup.queued} queued`;
  out.push(
    `| placement decision p99 (${s}) | ${ms(d.decision.placeByReliability.p99)} | ≤ ${d.targetMs} ms | ${d.met.placement ? 'met' : 'not met'} |`,
    `| queue fair-order decision p99 (${d.setup.queued}) | ${ms(d.decision.orderQueue.p99)} | ≤ ${d.targetMs} ms | ${d.met.queueOrder ? 'met' : 'not met'} |`,
    `| place() end to end p99 (engine probes alone p99) | ${ms(d.place.endToEnd.p99)} (${ms(d.place.engineProbesOnly.p99)}) | — | — |`,
    `| ordered() p99 / dispatch round p50 | ${ms(d.queue.ordered.p99)} / ${ms(d.queue.dispatchRound.p50)} | — | — |`,
  );
}
const l = newest('labs-');
if (l) {
  const d = l.data;
  const s1 = (x) => (x == null ? '—' : `${x.toFixed(1)} s`);
  for (const [k, L] of [
    ['warm', d.warm],
    ['cold (pulled from a registry)', d.cold],
  ])
    if (L)
      out.push(
        `| launch → kernel, ${k}: riglab / bare docker p50 | ${L.portal.p50.toFixed(0)} / ${L.bare.p50.toFixed(0)} ms = ${L.ratio.toFixed(3)}× | ≤ ${L.target}× | ${L.met ? 'met' : 'not met'} |`,
      );
  for (const c of d.classStart ?? [])
    out.push(
      `| class start through SSO, ${c.students} students, two rigs | ${c.ready}/${c.students} ready, all in ${s1(c.allReadyS)}; API p99 ${c.api.p99.toFixed(0)} ms; portal ${c.portal.cores.toFixed(2)} core, ${c.portal.rssPeakMb.toFixed(0)} MB | all ready, none failed | ${c.failed ? 'not met' : 'met'} |`,
    );
  const f = d.footprint;
  if (f)
    out.push(
      `| control plane with ${f.running} labs running | ${f.portal.cores.toFixed(3)} core, RSS peak ${f.portal.rssPeakMb.toFixed(0)} MB | ≤ ${f.target.cores} core, ≤ ${f.target.rssMb} MB | ${f.met ? 'met' : 'not met'} |`,
    );
}
const x = newest('proxy-');
if (x)
  for (const r of x.data.rows) {
    const verdict = !r.met.applies ? `— (${r.bound ?? 'backend'} is the ceiling)` : r.met.all ? 'met' : 'not met';
    out.push(
      `| proxy ${r.name}: riglab / CHP / direct ${r.unit} (p99 ms) | ${r.riglab.rate.toFixed(0)} (${+r.riglab.p99.toFixed(1)}) / ${r.chp.rate.toFixed(0)} (${+r.chp.p99.toFixed(1)}) / ${r.direct.rate.toFixed(0)} (${+r.direct.p99.toFixed(1)}) = ${r.ratio.rate.toFixed(2)}× CHP, p99 ${r.ratio.p99.toFixed(2)}× | ≥ ${r.target.rateVsChp}× CHP, p99 ≤ ${r.target.p99VsChp}× | ${verdict} |`,
    );
  }
const others = [l ? null : 'bench-', 'queue-', 'ledger-', 'telemetry-'].filter(Boolean).map(newest).filter(Boolean);
out.push('', p ? `Placement figures from ${p.file}.` : 'No placement results yet.');
if (l) out.push(`Launch, class start and footprint figures from ${l.file}.`);
if (x) out.push(`Proxy figures from ${x.file}.`);
if (others.length)
  out.push(`Other results (figures and their tables as printed above): ${others.map((o) => o.file).join(', ')}.`);
const text = `${out.join('\n')}\n`;
writeFileSync(join(dir, 'summary.md'), text);
process.stdout.write(`\n${text}`);
