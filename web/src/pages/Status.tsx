import { useCallback, useEffect, useState } from 'react';
import { api, errorText, type Check, type Health } from '../api';
import { Badge, ErrorMessage } from '../ui';

const REFRESH_MS = 10_000;

interface Row {
  kind: string;
  name: string;
  detail: string;
  check: Check;
}

function rowsOf(h: Health): Row[] {
  return [
    { kind: 'Database', name: 'PostgreSQL', detail: '', check: h.checks.database },
    { kind: 'Queue', name: 'Redis', detail: '', check: h.checks.redis },
    ...h.checks.rigs.map((r) => ({
      kind: 'Rig',
      name: r.name,
      detail: [r.state, r.endpoint, r.engineVersion ? `Docker ${r.engineVersion}` : ''].filter(Boolean).join(' · '),
      check: r,
    })),
  ];
}

function ms(v: number | null | undefined): string {
  return typeof v === 'number' ? `${v < 10 ? v.toFixed(1) : Math.round(v)} ms` : '—';
}

export function StatusPage() {
  const [health, setHealth] = useState<Health | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [updated, setUpdated] = useState<Date | null>(null);
  const [loading, setLoading] = useState(false);

  const load = useCallback(async () => {
    setLoading(true);
    try {
      setHealth(await api.health());
      setError(null);
      setUpdated(new Date());
    } catch (e) {
      setError(errorText(e));
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void load();
    const t = window.setInterval(() => void load(), REFRESH_MS);
    return () => window.clearInterval(t);
  }, [load]);

  const rows = health ? rowsOf(health) : [];
  const overallTone = health?.status === 'ok' ? 'ok' : health?.status === 'degraded' ? 'warn' : 'bad';

  return (
    <section aria-labelledby="status-heading">
      <div className="title-row">
        <h1 id="status-heading">Status</h1>
        {health ? <Badge tone={overallTone}>{health.status}</Badge> : null}
        <button
          type="button"
          className="btn btn-secondary btn-small push"
          onClick={() => void load()}
          aria-busy={loading}
        >
          {loading ? 'Refreshing…' : 'Refresh now'}
        </button>
      </div>
      <p className="muted">
        Database, Redis and every rig's Docker engine, checked by the portal. Refreshes every 10 seconds
        {updated ? `; last updated ${updated.toLocaleTimeString()}` : ''}.
      </p>

      {error ? (
        <ErrorMessage
          message={error}
          title={health ? 'Refresh failed (showing the last result):' : 'Could not load status:'}
        />
      ) : null}
      {!health && !error ? (
        <p className="muted" aria-busy="true">
          Checking…
        </p>
      ) : null}

      {health ? (
        <>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Component</th>
                  <th scope="col">Name</th>
                  <th scope="col">Status</th>
                  <th scope="col" className="num">
                    Latency
                  </th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={`${r.kind}:${r.name}`}>
                    <td>{r.kind}</td>
                    <td>
                      <strong>{r.name}</strong>
                    </td>
                    <td>
                      <Badge tone={r.check.status === 'up' ? 'ok' : 'bad'}>{r.check.status}</Badge>
                    </td>
                    <td className="num">{ms(r.check.latencyMs)}</td>
                    <td>
                      {r.detail ? <span className="muted">{r.detail}</span> : null}
                      {r.check.error ? <div className="error-text">{r.check.error}</div> : null}
                    </td>
                  </tr>
                ))}
                {health.checks.rigs.length === 0 ? (
                  <tr>
                    <td colSpan={5} className="muted">
                      No rigs registered yet. Add one with <code>riglab rig add</code>.
                    </td>
                  </tr>
                ) : null}
              </tbody>
            </table>
          </div>
          <h2>Latency</h2>
          <LatencyChart rows={rows} />
        </>
      ) : null}
    </section>
  );
}

/** Horizontal bars, one per component, scaled to the slowest component that is up; a down component is a full red bar. */
function LatencyChart({ rows }: { rows: Row[] }) {
  const labelW = 150;
  const valueW = 70;
  const barMax = 420;
  const rowH = 28;
  const width = labelW + barMax + valueW;
  const height = rows.length * rowH + 8;
  const max = Math.max(1, ...rows.filter((r) => r.check.status === 'up').map((r) => r.check.latencyMs ?? 0));
  const summary = rows.map((r) => `${r.name} ${r.check.status} ${ms(r.check.latencyMs)}`).join(', ');

  return (
    <figure className="chart">
      <svg
        viewBox={`0 0 ${width} ${height}`}
        width="100%"
        style={{ maxWidth: width }}
        role="img"
        aria-label={`Latency per component: ${summary}`}
      >
        {rows.map((r, i) => {
          const y = 4 + i * rowH;
          const v = r.check.latencyMs ?? 0;
          const up = r.check.status === 'up';
          const w = up ? Math.max(2, Math.min(1, v / max) * barMax) : barMax;
          return (
            <g key={`${r.kind}:${r.name}`}>
              <text x={labelW - 10} y={y + rowH / 2} textAnchor="end" dominantBaseline="middle" className="chart-label">
                {r.name}
              </text>
              <rect x={labelW} y={y + 5} width={barMax} height={rowH - 10} className="chart-track" rx={3} />
              <rect
                x={labelW}
                y={y + 5}
                width={w}
                height={rowH - 10}
                className={up ? 'chart-bar-ok' : 'chart-bar-bad'}
                rx={3}
              />
              <text x={labelW + barMax + 8} y={y + rowH / 2} dominantBaseline="middle" className="chart-value">
                {up ? ms(r.check.latencyMs) : 'down'}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption className="hint">
        Round-trip time of each health check, scaled to the slowest component that is up ({ms(max)}); a red bar means
        the check failed.
      </figcaption>
    </figure>
  );
}
