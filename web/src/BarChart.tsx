export interface Bar {
  label: string;
  value: number;
  /** A class from styles.css (`chart-bar-ok`, `chart-bar-bad`, `chart-bar-warn`, `chart-bar-neutral`, `chart-bar-primary`). */
  tone?: string;
}

/** Small horizontal bar chart in plain SVG; the numbers are also in the accessible name. */
export function BarChart({ title, bars, caption }: { title: string; bars: Bar[]; caption?: string }) {
  const labelW = 130;
  const valueW = 44;
  const barMax = 240;
  const rowH = 26;
  const width = labelW + barMax + valueW;
  const height = bars.length * rowH + 6;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const summary = bars.map((b) => `${b.label} ${b.value}`).join(', ');

  return (
    <figure className="chart chart-small">
      <figcaption className="chart-title">{title}</figcaption>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        width="100%"
        style={{ maxWidth: width }}
        role="img"
        aria-label={`${title}: ${summary}`}
      >
        {bars.map((b, i) => {
          const y = 3 + i * rowH;
          const w = b.value === 0 ? 0 : Math.max(3, (b.value / max) * barMax);
          return (
            <g key={b.label}>
              <text x={labelW - 10} y={y + rowH / 2} textAnchor="end" dominantBaseline="middle" className="chart-label">
                {b.label}
              </text>
              <rect x={labelW} y={y + 5} width={barMax} height={rowH - 10} className="chart-track" rx={3} />
              <rect
                x={labelW}
                y={y + 5}
                width={w}
                height={rowH - 10}
                className={b.tone ?? 'chart-bar-primary'}
                rx={3}
              />
              <text x={labelW + barMax + 8} y={y + rowH / 2} dominantBaseline="middle" className="chart-value">
                {b.value}
              </text>
            </g>
          );
        })}
      </svg>
      {caption ? <p className="hint">{caption}</p> : null}
    </figure>
  );
}
