import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { ApiError, api, errorText, type Rig, type RigEvent, type RigState, type RigTelemetry } from '../api';
import { ErrorMessage } from '../ui';

const REFRESH_MS = 30_000;

/** Where a person may send a rig from each state (api/src/modules/rigs/rig-lifecycle.policy.ts has the rule). */
const MOVES: Record<RigState, RigState[]> = {
  registered: ['burn-in', 'active', 'retired'],
  'burn-in': ['active', 'maintenance', 'retired'],
  active: ['draining', 'maintenance', 'retired'],
  draining: ['active', 'maintenance', 'retired'],
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

/** Campus IT: every rig's state at a glance, its history and telemetry, and the lifecycle buttons. */
export function RigsPage({ onUnauthorized }: { onUnauthorized: () => void }) {
  const [rigs, setRigs] = useState<Rig[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setRigs(await api.rigs());
      setError(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) onUnauthorized();
      else setError(errorText(e));
    }
  }, [onUnauthorized]);

  useEffect(() => {
    void load();
    const t = window.setInterval(() => {
      if (document.visibilityState === 'visible') void load();
    }, REFRESH_MS);
    return () => window.clearInterval(t);
  }, [load]);

  return (
    <section aria-labelledby="rigs-heading">
      <div className="title-row">
        <h1 id="rigs-heading">Rigs</h1>
        <button type="button" className="btn btn-secondary btn-small push" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      <p className="muted">
        The pool's rigs: only active rigs take new labs. Draining lets running labs finish until the deadline.
      </p>
      {error ? <ErrorMessage message={error} title="Could not load the rigs:" /> : null}
      {rigs && rigs.length === 0 ? <p>No rigs are registered yet (npx riglab rig add NAME --endpoint URL).</p> : null}
      {rigs && rigs.length > 0 ? (
        <table className="table">
          <thead>
            <tr>
              <th>Rig</th>
              <th>State</th>
              <th>Why</th>
              <th>Engine</th>
              <th>Last seen</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rigs.map((r) => (
              <tr key={r.id}>
                <td>
                  <strong>{r.name}</strong>
                  <div className="muted small">
                    {r.cpus} CPUs · {Math.round(r.memoryMb / 1024)} GiB · {r.driver}
                  </div>
                </td>
                <td>
                  <span className={`badge state-${r.state}`}>{r.state}</span>
                  {r.state === 'draining' && r.drainDeadline ? (
                    <div className="muted small">
                      until {new Date(r.drainDeadline).toLocaleString()}
                      {r.drainTarget ? `, then ${r.drainTarget}` : ''}
                    </div>
                  ) : null}
                </td>
                <td className="small">{r.stateReason || '—'}</td>
                <td className="small">{r.engineVersion ? `Docker ${r.engineVersion}` : '—'}</td>
                <td className="small">{r.lastSeenAt ? new Date(r.lastSeenAt).toLocaleString() : 'never'}</td>
                <td>
                  <button
                    type="button"
                    className="btn btn-secondary btn-small"
                    aria-expanded={open === r.name}
                    onClick={() => setOpen(open === r.name ? null : r.name)}
                  >
                    {open === r.name ? 'Close' : 'Details'}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {open && rigs?.find((r) => r.name === open) ? (
        <RigDetail rig={rigs.find((r) => r.name === open)!} onChanged={() => void load()} />
      ) : null}
    </section>
  );
}

function RigDetail({ rig, onChanged }: { rig: Rig; onChanged: () => void }) {
  const [events, setEvents] = useState<RigEvent[] | null>(null);
  const [telemetry, setTelemetry] = useState<RigTelemetry | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [to, setTo] = useState<RigState | ''>('');
  const [reason, setReason] = useState('');
  const [deadline, setDeadline] = useState('');
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      const [e, t] = await Promise.all([
        api.rigEvents(rig.name),
        api.rigTelemetry(rig.name, new Date(Date.now() - 6 * 3600_000), 'raw'),
      ]);
      setEvents(e);
      setTelemetry(t);
    } catch (err) {
      setError(errorText(err));
    }
  }, [rig.name]);

  useEffect(() => {
    void load();
  }, [load, rig.state]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!to) return;
    setBusy(true);
    try {
      await api.setRigState(rig.name, { to, reason, ...(deadline ? { deadline } : {}) });
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

  const series = telemetry?.series ?? {};
  const temps = Object.entries(series).filter(([k]) => /^gpu\.\d+\.temperatureC$/.test(k));
  const charts: Array<{ title: string; unit: string; lines: Array<[string, Array<{ at: string; value: number }>]> }> = [
    { title: 'GPU temperatures', unit: '°C', lines: temps.map(([k, v]) => [`GPU ${k.split('.')[1]}`, v]) },
    {
      title: 'GPU power',
      unit: 'W',
      lines: Object.entries(series)
        .filter(([k]) => /^gpu\.\d+\.powerW$/.test(k))
        .map(([k, v]) => [`GPU ${k.split('.')[1]}`, v]),
    },
    { title: 'Load (1 min)', unit: '', lines: series.load1 ? [['load', series.load1]] : [] },
    {
      title: 'Memory available',
      unit: 'MiB',
      lines: series.memoryAvailableMb ? [['available', series.memoryAvailableMb]] : [],
    },
  ];

  return (
    <div className="card" aria-label={`rig ${rig.name}`}>
      <h2>{rig.name}</h2>
      {error ? <ErrorMessage message={error} /> : null}
      <form className="inline-form" onSubmit={(e) => void submit(e)}>
        <fieldset disabled={busy || MOVES[rig.state].length === 0}>
          <legend>Change state</legend>
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
              <label>
                Reason (kept in the rig's history)
                <input value={reason} onChange={(e) => setReason(e.target.value)} required minLength={3} />
              </label>
              {to === 'draining' || to === 'maintenance' || to === 'retired' ? (
                <label>
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
      <h3>Telemetry, last 6 hours</h3>
      {telemetry && Object.keys(series).length === 0 ? (
        <p className="muted">No telemetry yet: the probe runs every 30 seconds on rigs that are not retired.</p>
      ) : null}
      <div className="chart-grid">
        {charts
          .filter((c) => c.lines.length > 0)
          .map((c) => (
            <LineChart key={c.title} title={c.title} unit={c.unit} lines={c.lines} />
          ))}
      </div>
      <h3>History</h3>
      {events && events.length === 0 ? <p className="muted">No state changes yet.</p> : null}
      {events && events.length > 0 ? (
        <ul className="plain">
          {events.map((e, i) => (
            <li key={i}>
              <span className="muted small">{new Date(e.at).toLocaleString()}</span> {e.from ?? '—'} →{' '}
              <strong>{e.to}</strong> by {e.actor}: {e.reason}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

const COLOURS = ['#1f5aa6', '#2e8b57', '#d4a017', '#8e44ad', '#c0392b', '#7f8c8d'];

/** A small SVG line chart of one or more series over time. */
function LineChart({
  title,
  unit,
  lines,
}: {
  title: string;
  unit: string;
  lines: Array<[string, Array<{ at: string; value: number }>]>;
}) {
  const W = 420;
  const H = 140;
  const pad = { l: 40, r: 8, t: 8, b: 20 };
  const points = lines.flatMap(([, v]) => v);
  const t0 = Math.min(...points.map((p) => Date.parse(p.at)));
  const t1 = Math.max(...points.map((p) => Date.parse(p.at)), t0 + 1);
  const lo = Math.min(0, ...points.map((p) => p.value));
  const hi = Math.max(1, ...points.map((p) => p.value));
  const x = (at: string) => pad.l + ((Date.parse(at) - t0) / (t1 - t0)) * (W - pad.l - pad.r);
  const y = (v: number) => pad.t + (1 - (v - lo) / (hi - lo)) * (H - pad.t - pad.b);
  const last = lines
    .map(([name, v]) => `${name} ${v[v.length - 1]?.value ?? '—'}${unit ? ` ${unit}` : ''}`)
    .join(' · ');
  return (
    <figure className="card chart">
      <figcaption>
        <strong>{title}</strong> <span className="muted small">now: {last}</span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title} over the last hours`}>
        <line x1={pad.l} x2={W - pad.r} y1={y(lo)} y2={y(lo)} stroke="#ccc" />
        <text x={pad.l - 4} y={y(hi) + 4} textAnchor="end" fontSize="10" fill="#555">
          {Math.round(hi)}
        </text>
        <text x={pad.l - 4} y={y(lo)} textAnchor="end" fontSize="10" fill="#555">
          {Math.round(lo)}
        </text>
        <text x={pad.l} y={H - 4} fontSize="10" fill="#555">
          {new Date(t0).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}
        </text>
        <text x={W - pad.r} y={H - 4} fontSize="10" textAnchor="end" fill="#555">
          {new Date(t1).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}
        </text>
        {lines.map(([name, v], i) => (
          <polyline
            key={name}
            fill="none"
            stroke={COLOURS[i % COLOURS.length]}
            strokeWidth="1.5"
            points={v.map((p) => `${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ')}
          />
        ))}
      </svg>
    </figure>
  );
}
