export interface Point {
  at: string;
  value: number;
}

export type Line = [name: string, points: Point[]];

const COLOURS = ['#1f5aa6', '#2e8b57', '#d4a017', '#8e44ad', '#c0392b', '#7f8c8d'];

const clock = (t: number, long: boolean) =>
  new Date(t).toLocaleString(
    [],
    long
      ? { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }
      : { hour: '2-digit', minute: '2-digit' },
  );

/**
 * A small SVG line chart of one or more series over time, one <path> per series. The latest value
 * of each is in the caption and the chart's accessible name, so the numbers do not hide in a drawing.
 */
export function LineChart({ title, unit, lines, max }: { title: string; unit: string; lines: Line[]; max?: number }) {
  const W = 420;
  const H = 140;
  const pad = { l: 44, r: 8, t: 8, b: 20 };
  const points = lines.flatMap(([, v]) => v);
  const t0 = Math.min(...points.map((p) => Date.parse(p.at)));
  const t1 = Math.max(...points.map((p) => Date.parse(p.at)), t0 + 1);
  const lo = Math.min(0, ...points.map((p) => p.value));
  const hi = max ?? Math.max(1, ...points.map((p) => p.value));
  const x = (at: string) => pad.l + ((Date.parse(at) - t0) / (t1 - t0)) * (W - pad.l - pad.r);
  const y = (v: number) => pad.t + (1 - (v - lo) / (hi - lo || 1)) * (H - pad.t - pad.b);
  const fmt = (v: number | undefined) =>
    v === undefined ? '—' : `${Math.round(v * 10) / 10}${unit ? ` ${unit}` : ''}`;
  const last = lines.map(([name, v]) => `${name} ${fmt(v[v.length - 1]?.value)}`).join(' · ');
  const long = t1 - t0 > 20 * 3600_000;
  return (
    <figure className="card chart">
      <figcaption>
        <strong>{title}</strong> <span className="muted small">now: {last}</span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}: latest ${last}`}>
        <line x1={pad.l} x2={W - pad.r} y1={y(lo)} y2={y(lo)} stroke="#ccc" />
        <text x={pad.l - 4} y={y(hi) + 4} textAnchor="end" fontSize="10" fill="#555">
          {Math.round(hi)}
        </text>
        <text x={pad.l - 4} y={y(lo)} textAnchor="end" fontSize="10" fill="#555">
          {Math.round(lo)}
        </text>
        <text x={pad.l} y={H - 4} fontSize="10" fill="#555">
          {clock(t0, long)}
        </text>
        <text x={W - pad.r} y={H - 4} fontSize="10" textAnchor="end" fill="#555">
          {clock(t1, long)}
        </text>
        {lines.map(([name, v], i) => (
          <path
            key={name}
            className="chart-line"
            fill="none"
            stroke={COLOURS[i % COLOURS.length]}
            strokeWidth="1.5"
            d={v.map((p, j) => `${j ? 'L' : 'M'}${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ')}
          >
            <title>{name}</title>
          </path>
        ))}
      </svg>
      {lines.length > 1 ? (
        <p className="legend small">
          {lines.map(([name], i) => (
            <span key={name} className="legend-item">
              <span className="legend-swatch" style={{ background: COLOURS[i % COLOURS.length] }} aria-hidden="true" />
              {name}
            </span>
          ))}
        </p>
      ) : null}
    </figure>
  );
}
