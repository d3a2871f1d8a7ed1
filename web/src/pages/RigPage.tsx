import { useCallback, useEffect, useState, type FormEvent } from 'react';
import {
  ApiError,
  api,
  errorText,
  type BurnInRun,
  type RigAuditEntry,
  type RigBoard,
  type RigEvent,
  type RigReliability,
  type RigState,
  type RigTelemetry,
} from '../api';
import { LineChart, type Line } from '../LineChart';
import { Link } from '../router';
import { Badge, ErrorMessage, formatDate, usePolling } from '../ui';
import { AlertList, BurnInBadge, gib, ScoreCell } from './Rigs';
import { InventoryFacts } from './RigAdd';

/** Where a person may send a rig from each state (api/src/modules/rigs/rig-lifecycle.policy.ts has the rule). */
const MOVES: Record<RigState, RigState[]> = {
  registered: ['burn-in', 'active', 'retired'],
  'burn-in': ['active', 'maintenance', 'retired'],
  active: ['draining', 'maintenance', 'retired'],
  draining: ['active', 'maintenance', 'burn-in', 'retired'],
  maintenance: ['burn-in', 'retired'],
  retired: [],
};

const VERB: Record<RigState, string> = {
  registered: 'Register',
  'burn-in': 'Burn in',
  active: 'Activate',
  draining: 'Drain',
  maintenance: 'Maintenance',
  retired: 'Retire',
};

const RANGES = [
  { label: '1 hour', ms: 3600_000, resolution: 'raw' as const },
  { label: '6 hours', ms: 6 * 3600_000, resolution: 'raw' as const },
  { label: '24 hours', ms: 24 * 3600_000, resolution: '5m' as const },
  { label: '7 days', ms: 7 * 24 * 3600_000, resolution: '5m' as const },
];

type Series = RigTelemetry['series'];

/** The GPU readings charted per GPU: series suffix, title, unit, fixed maximum. */
const GPU_CHARTS: Array<{ key: string; title: string; unit: string; max?: number }> = [
  { key: 'temperatureC', title: 'Temperature', unit: '°C' },
  { key: 'fanPercent', title: 'Fan', unit: '%', max: 100 },
  { key: 'fanRpm', title: 'Fan', unit: 'rpm' },
  { key: 'powerW', title: 'Power', unit: 'W' },
  { key: 'utilizationPercent', title: 'Utilisation', unit: '%', max: 100 },
];

/** GPU indexes that have any series, from names like `gpu.1.temperatureC`. */
function gpuIndexes(series: Series): number[] {
  const found = new Set<number>();
  for (const k of Object.keys(series)) {
    const m = /^gpu\.(\d+)\./.exec(k);
    if (m) found.add(Number(m[1]));
  }
  return [...found].sort((a, b) => a - b);
}

/** Campus IT's page of one rig: alerts, inventory, GPUs, telemetry per GPU, burn-ins, history, the state buttons. */
export function RigPage({ name, onUnauthorized }: { name: string; onUnauthorized: () => void }) {
  const [rig, setRig] = useState<RigBoard | null>(null);
  const [score, setScore] = useState<RigReliability | undefined>(undefined);
  const [scored, setScored] = useState(false);
  const [events, setEvents] = useState<RigEvent[] | null>(null);
  const [audit, setAudit] = useState<RigAuditEntry[] | null>(null);
  const [burnIns, setBurnIns] = useState<BurnInRun[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [missing, setMissing] = useState(false);

  const load = useCallback(async () => {
    try {
      const [r, e, a, b, s] = await Promise.all([
        api.rig(name),
        api.rigEvents(name),
        api.rigAudit(name),
        api.rigBurnIns(name).catch(() => null),
        api.reliability().catch(() => null),
      ]);
      setRig(r);
      setEvents(e);
      setAudit(a);
      setBurnIns(b);
      setScored(s !== null);
      setScore(s?.find((x) => x.rig === name));
      setError(null);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) onUnauthorized();
      else if (err instanceof ApiError && err.status === 404) setMissing(true);
      else setError(errorText(err));
    }
  }, [name, onUnauthorized]);
  usePolling(load);

  useEffect(() => {
    document.title = `Rig ${name} · riglab`;
  }, [name]);

  if (missing)
    return (
      <section>
        <h1>Rig not found</h1>
        <p>
          There is no rig named <code>{name}</code>. Back to <Link href="/rigs">the rigs</Link>.
        </p>
      </section>
    );

  return (
    <section aria-labelledby="rig-heading">
      <nav className="breadcrumb" aria-label="Breadcrumb">
        <Link href="/rigs">Rigs</Link> / {name}
      </nav>
      <div className="title-row">
        <h1 id="rig-heading">{name}</h1>
        {rig ? (
          <span className={`badge state-${rig.state}`} aria-label={`state ${rig.state}`}>
            {rig.state}
          </span>
        ) : null}
        <button type="button" className="btn btn-secondary btn-small push" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      {error ? <ErrorMessage message={error} title="Could not load the rig:" /> : null}
      {rig ? (
        <>
          <p className="state-reason">
            {rig.stateReason || 'No reason recorded.'}
            {rig.state === 'draining' && rig.drainDeadline ? (
              <>
                {' '}
                · Running labs stop at {formatDate(rig.drainDeadline)}
                {rig.drainTarget ? `, then the rig goes to ${rig.drainTarget}` : ''}.
              </>
            ) : null}
          </p>
          <div className="rig-overview">
            <div className="card">
              <h2>Alerts</h2>
              <AlertList alerts={rig.alerts} />
            </div>
            <div className="card">
              <h2>Now</h2>
              <dl className="facts">
                <dt>Load</dt>
                <dd>
                  {rig.load1 === null ? '—' : rig.load1.toFixed(2)}
                  {rig.cpusSeen ? ` on ${rig.cpusSeen} CPUs` : ''}
                </dd>
                <dt>Memory free</dt>
                <dd>
                  {gib(rig.memoryAvailableMb)} of {gib(rig.memoryTotalMb)}
                </dd>
                <dt>Disk free</dt>
                <dd>
                  {gib(rig.diskFreeMb)} of {gib(rig.diskTotalMb)}
                </dd>
                <dt>GPU slots</dt>
                <dd>{rig.slots.total ? `${rig.slots.used} of ${rig.slots.total} in use` : 'no GPUs'}</dd>
                <dt>Reliability</dt>
                <dd>
                  <ScoreCell score={score} extrasLoaded={scored} />
                </dd>
                <dt>Sampled</dt>
                <dd>{formatDate(rig.sampledAt, 'no recent telemetry')}</dd>
              </dl>
            </div>
            <div className="card">
              <h2>Engine and capacity</h2>
              <dl className="facts">
                <dt>Endpoint</dt>
                <dd className="mono">
                  {rig.endpoint}
                  {rig.tls ? ' (TLS)' : ''}
                </dd>
                <dt>Docker</dt>
                <dd>{rig.engineVersion ?? '—'}</dd>
                <dt>Last seen</dt>
                <dd>{formatDate(rig.lastSeenAt)}</dd>
                <dt>Labs may use</dt>
                <dd>
                  {rig.cpus} CPUs, {gib(rig.memoryMb)}
                </dd>
              </dl>
            </div>
          </div>
          <StateActions rig={rig} onChanged={() => void load()} />
          <Inventory rig={rig} onChanged={() => void load()} />
          <Gpus rig={rig} />
          <Telemetry name={name} />
          <BurnIns runs={burnIns} />
          <History events={events} audit={audit} />
        </>
      ) : null}
    </section>
  );
}

function StateActions({ rig, onChanged }: { rig: RigBoard; onChanged: () => void }) {
  const [to, setTo] = useState<RigState | ''>('');
  const [reason, setReason] = useState('');
  const [deadline, setDeadline] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!to) return;
    setBusy(true);
    try {
      if (to === 'burn-in') {
        const run = await api.startBurnIn(rig.name, reason);
        setDone(`Burn-in started: ${run.progress.total} check(s).`);
      } else {
        const r = await api.setRigState(rig.name, { to, reason, ...(deadline ? { deadline } : {}) });
        setDone(`Rig ${rig.name} is ${r.state} now.`);
      }
      setError(null);
      setTo('');
      setReason('');
      setDeadline('');
      onChanged();
    } catch (err) {
      setError(`Not changed: ${errorText(err)}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="card">
      <h2>Change state</h2>
      {error ? <ErrorMessage message={error} /> : null}
      {done ? (
        <div className="alert alert-ok" role="status">
          {done}
        </div>
      ) : null}
      <form className="inline-form" onSubmit={(e) => void submit(e)}>
        <fieldset disabled={busy || MOVES[rig.state].length === 0}>
          <legend className="sr-only">Change the state of {rig.name}</legend>
          {MOVES[rig.state].length === 0 ? <p className="muted">A retired rig stays retired.</p> : null}
          <div className="button-row">
            {MOVES[rig.state].map((s) => (
              <button
                key={s}
                type="button"
                className={`btn btn-small ${to === s ? '' : 'btn-secondary'}`}
                aria-pressed={to === s}
                onClick={() => setTo(s)}
              >
                {VERB[s]}
              </button>
            ))}
          </div>
          {to ? (
            <>
              <label className="field">
                Reason (kept in the rig's history)
                <input value={reason} onChange={(e) => setReason(e.target.value)} required minLength={3} />
              </label>
              {to === 'draining' || to === 'maintenance' || to === 'retired' ? (
                <label className="field">
                  Labs may finish for (e.g. 30m, 2h; empty: the default)
                  <input value={deadline} onChange={(e) => setDeadline(e.target.value)} placeholder="60m" />
                </label>
              ) : null}
              <button type="submit" className="btn">
                {VERB[to]} {rig.name}
              </button>
            </>
          ) : null}
        </fieldset>
      </form>
    </div>
  );
}

function Inventory({ rig, onChanged }: { rig: RigBoard; onChanged: () => void }) {
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const rediscover = async () => {
    setBusy(true);
    try {
      const d = await api.rediscoverRig(rig.name);
      const added = d.gpusAdded.length ? `; registered GPU ${d.gpusAdded.map((g) => g.index).join(', ')}` : '';
      const missing = d.gpusMissing.length ? `; not found now: GPU ${d.gpusMissing.join(', ')}` : '';
      setNote({
        ok: true,
        text: `Engine answered (Docker ${d.connection.version}) in ${d.connection.latencyMs} ms${added}${missing}.`,
      });
      onChanged();
    } catch (e) {
      setNote({ ok: false, text: errorText(e) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="card">
      <div className="title-row">
        <h2>Inventory</h2>
        <button
          type="button"
          className="btn btn-secondary btn-small push"
          disabled={busy}
          onClick={() => void rediscover()}
        >
          {busy ? 'Discovering…' : 'Discover again'}
        </button>
      </div>
      {note ? (
        note.ok ? (
          <div className="alert alert-ok" role="status">
            {note.text}
          </div>
        ) : (
          <ErrorMessage message={note.text} />
        )
      ) : null}
      {rig.inventory ? (
        <InventoryFacts inventory={rig.inventory} />
      ) : (
        <p className="muted">Not discovered yet: the engine has not answered since the rig was registered.</p>
      )}
    </div>
  );
}

function Gpus({ rig }: { rig: RigBoard }) {
  if (!rig.gpus.length) return null;
  return (
    <div className="card">
      <h2>GPUs</h2>
      <table className="table">
        <thead>
          <tr>
            <th>GPU</th>
            <th>VRAM</th>
            <th>Health</th>
            <th>Slots</th>
            <th>Temperature</th>
            <th>PCIe width</th>
          </tr>
        </thead>
        <tbody>
          {rig.gpus.map((g) => (
            <tr key={g.index}>
              <td>
                {g.index}: {g.model} <span className="muted small">({g.driver})</span>
              </td>
              <td>{gib(g.vramMb)}</td>
              <td>
                {g.healthy ? <Badge tone="ok">healthy</Badge> : <Badge tone="bad">quarantined</Badge>}
                {g.healthReason ? <div className="small">{g.healthReason}</div> : null}
              </td>
              <td>
                {g.slots.used}/{g.slots.total}
              </td>
              <td>{g.temperatureC === null ? '—' : `${g.temperatureC} °C`}</td>
              <td>{g.pcieWidth === null ? '—' : `x${g.pcieWidth} of x${g.pcieWidthMax ?? '?'}`}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Telemetry({ name }: { name: string }) {
  const [range, setRange] = useState(1);
  const [telemetry, setTelemetry] = useState<RigTelemetry | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      const r = RANGES[range];
      setTelemetry(await api.rigTelemetry(name, new Date(Date.now() - r.ms), r.resolution));
      setError(null);
    } catch (e) {
      setError(errorText(e));
    }
  }, [name, range]);
  usePolling(load);

  const series = telemetry?.series ?? {};
  const one = (key: string, label: string): Line[] => (series[key]?.length ? [[label, series[key]]] : []);
  return (
    <div className="card">
      <div className="title-row">
        <h2>Telemetry</h2>
        <label className="push small">
          Last{' '}
          <select value={range} onChange={(e) => setRange(Number(e.target.value))}>
            {RANGES.map((r, i) => (
              <option key={r.label} value={i}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      {error ? <ErrorMessage message={error} /> : null}
      {telemetry && Object.keys(series).length === 0 ? (
        <p className="muted">No telemetry in this range: the probe runs on every rig that is not retired.</p>
      ) : null}
      {gpuIndexes(series).map((i) => (
        <section key={i} aria-label={`GPU ${i} telemetry`}>
          <h3>GPU {i}</h3>
          <div className="chart-grid">
            {GPU_CHARTS.filter((c) => series[`gpu.${i}.${c.key}`]?.length).map((c) => (
              <LineChart
                key={c.key}
                title={`GPU ${i} ${c.title.toLowerCase()}`}
                unit={c.unit}
                max={c.max}
                lines={one(`gpu.${i}.${c.key}`, `GPU ${i}`)}
              />
            ))}
          </div>
        </section>
      ))}
      <section aria-label="Rig telemetry">
        <h3>Rig</h3>
        <div className="chart-grid">
          {series.load1?.length ? <LineChart title="Load (1 min)" unit="" lines={one('load1', 'load')} /> : null}
          {series.memoryAvailableMb?.length ? (
            <LineChart title="Memory available" unit="MiB" lines={one('memoryAvailableMb', 'available')} />
          ) : null}
          {series.diskFreeMb?.length ? (
            <LineChart title="Disk free" unit="MiB" lines={one('diskFreeMb', 'free')} />
          ) : null}
        </div>
      </section>
    </div>
  );
}

function BurnIns({ runs }: { runs: BurnInRun[] | null }) {
  return (
    <div className="card">
      <h2>Burn-in runs</h2>
      {runs === null ? <p className="muted">Burn-in results are not available on this portal.</p> : null}
      {runs && runs.length === 0 ? <p className="muted">No burn-in has run on this rig.</p> : null}
      {runs?.map((run) => (
        <details key={run.id} className="burn-in-run" open={run === runs[0]}>
          <summary>
            <BurnInBadge run={run} /> started {formatDate(run.startedAt)}
            {run.finishedAt ? `, finished ${formatDate(run.finishedAt)}` : ''}
          </summary>
          <table className="table">
            <thead>
              <tr>
                <th>Check</th>
                <th>Result</th>
                <th>Detail</th>
                <th>Figures</th>
              </tr>
            </thead>
            <tbody>
              {run.checks.map((c) => (
                <tr key={c.name}>
                  <td>{c.name}</td>
                  <td>
                    <Badge
                      tone={
                        c.status === 'passed'
                          ? 'ok'
                          : c.status === 'failed'
                            ? 'bad'
                            : c.status === 'running'
                              ? 'warn'
                              : 'neutral'
                      }
                    >
                      {c.status}
                    </Badge>
                  </td>
                  <td className="small">{c.detail || '—'}</td>
                  <td className="small mono">
                    {Object.entries(c.figures)
                      .map(([k, v]) => `${k} ${Math.round(v * 100) / 100}`)
                      .join(', ') || '—'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      ))}
    </div>
  );
}

function History({ events, audit }: { events: RigEvent[] | null; audit: RigAuditEntry[] | null }) {
  return (
    <div className="rig-overview">
      <div className="card">
        <h2>History</h2>
        {events && events.length === 0 ? <p className="muted">No state changes yet.</p> : null}
        <ul className="plain" aria-label="State changes">
          {events?.map((e, i) => (
            <li key={i}>
              <span className="muted small">{formatDate(e.at)}</span> {e.from ?? '—'} → <strong>{e.to}</strong> by{' '}
              {e.actor}: {e.reason}
            </li>
          ))}
        </ul>
      </div>
      <div className="card">
        <h2>Audit</h2>
        {audit && audit.length === 0 ? <p className="muted">Nothing audited yet.</p> : null}
        <ul className="plain" aria-label="Audit events">
          {audit?.map((a, i) => (
            <li key={i}>
              <span className="muted small">{formatDate(a.at)}</span> <strong>{a.action}</strong> by {a.actor}
              {typeof a.detail.reason === 'string' ? `: ${a.detail.reason}` : ''}
              {typeof a.detail.why === 'string' ? `: ${a.detail.why}` : ''}
            </li>
          ))}
        </ul>
      </div>
    </div>
  );
}
