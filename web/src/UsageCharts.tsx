import type { BudgetLine } from './api';

/** Minutes and hours as people read them: whole numbers when whole, else one decimal. */
export function amount(n: number): string {
  const r = Math.round(n * 10) / 10;
  return Number.isInteger(r) ? String(r) : r.toFixed(1);
}

/** Minutes granted (positive) or taken back (negative) by adjustments this week: left − (limit − used). */
export function extraOf(b: BudgetLine): number {
  if (b.limit === null || b.left === null) return 0;
  return Math.round((b.left + b.used - b.limit) * 10_000) / 10_000;
}

/** "12.5 of 60 GPU-minutes used, 47.5 left" (or "…used, no limit"): the words every meter also says. */
export function budgetWords(b: BudgetLine, unit: string): string {
  if (b.limit === null) return `${amount(b.used)} ${unit} used, no limit`;
  const extra = extraOf(b);
  const of =
    extra > 0
      ? `${amount(b.limit)} + ${amount(extra)} extra`
      : extra < 0
        ? `${amount(b.limit)} − ${amount(-extra)} taken back`
        : amount(b.limit);
  return `${amount(b.used)} of ${of} ${unit} used, ${amount(Math.max(0, b.left ?? 0))} left`;
}

/**
 * One budget as a bar: used against the limit (plus any extra minutes granted), with what is left as
 * the rest of the track. Used up, the bar turns red; nearly used up (under a fifth left) amber, so a
 * student sees it coming before a launch is refused.
 */
export function Meter({ label, line, unit }: { label: string; line: BudgetLine; unit: string }) {
  const width = 320;
  const height = 14;
  const limit = line.limit;
  const total = limit === null ? 0 : Math.max(0, limit + extraOf(line));
  const share = limit === null ? 0 : total <= 0 ? 1 : Math.min(1, line.used / total);
  const left = limit === null ? null : Math.max(0, line.left ?? 0);
  const tone =
    left === null
      ? 'chart-bar-neutral'
      : left === 0
        ? 'chart-bar-bad'
        : total > 0 && left / total < 0.2
          ? 'chart-bar-warn'
          : 'chart-bar-primary';
  const words = budgetWords(line, unit);
  return (
    <div className="meter">
      <div className="meter-head">
        <span className="meter-label">{label}</span>
        <span className="meter-value">
          {left === null ? (
            <>
              <strong>{amount(line.used)}</strong> used · no limit
            </>
          ) : (
            <>
              <strong>{amount(left)}</strong> left of {amount(total)}
            </>
          )}
        </span>
      </div>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        width="100%"
        height={height}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${label}: ${words}`}
      >
        <rect x={0} y={0} width={width} height={height} rx={4} className="chart-track" />
        {limit === null ? null : <rect x={0} y={0} width={share * width} height={height} rx={4} className={tone} />}
      </svg>
      <div className="hint">{words}</div>
    </div>
  );
}

/**
 * Each student's GPU-minutes this week against the limit: horizontal bars with the limit as a dashed
 * line; a student at or past it is red. Without a limit the bars scale to the biggest user.
 */
export function LimitBars({
  title,
  rows,
  limit,
  unit,
}: {
  title: string;
  rows: { label: string; used: number; left: number | null }[];
  limit: number | null;
  unit: string;
}) {
  const labelW = 130;
  const valueW = 92;
  const barMax = 300;
  const rowH = 24;
  const width = labelW + barMax + valueW;
  const height = rows.length * rowH + 22;
  const max = Math.max(1, limit ?? 0, ...rows.map((r) => r.used));
  const x = (v: number) => labelW + (v / max) * barMax;
  const summary = rows
    .map((r) => `${r.label} ${amount(r.used)}${limit === null ? '' : ` of ${amount(limit)}`}`)
    .join(', ');
  return (
    <figure className="chart chart-small">
      <figcaption className="chart-title">{title}</figcaption>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        width="100%"
        style={{ maxWidth: width }}
        role="img"
        aria-label={`${title}: ${summary || 'no students'}`}
      >
        {rows.map((r, i) => {
          const y = 4 + i * rowH;
          const over = limit !== null && r.left !== null && r.left <= 0;
          const w = r.used <= 0 ? 0 : Math.max(3, Math.min(x(r.used), labelW + barMax) - labelW);
          return (
            <g key={r.label}>
              <text x={labelW - 10} y={y + rowH / 2} textAnchor="end" dominantBaseline="middle" className="chart-label">
                {r.label}
              </text>
              <rect x={labelW} y={y + 5} width={barMax} height={rowH - 10} className="chart-track" rx={3} />
              <rect
                x={labelW}
                y={y + 5}
                width={w}
                height={rowH - 10}
                className={over ? 'chart-bar-bad' : 'chart-bar-primary'}
                rx={3}
              />
              <text x={labelW + barMax + 8} y={y + rowH / 2} dominantBaseline="middle" className="chart-value">
                {amount(r.used)}
                {limit === null ? '' : ` / ${amount(limit)}`}
              </text>
            </g>
          );
        })}
        {limit !== null ? (
          <>
            <line
              x1={x(limit)}
              x2={x(limit)}
              y1={2}
              y2={rows.length * rowH + 6}
              className="chart-limit"
              strokeDasharray="4 3"
            />
            <text x={x(limit)} y={rows.length * rowH + 18} textAnchor="end" className="chart-value">
              limit {amount(limit)} {unit}
            </text>
          </>
        ) : null}
      </svg>
    </figure>
  );
}

const PALETTE = ['series-0', 'series-1', 'series-2', 'series-3', 'series-4', 'series-5'];
/** More series than colours would be unreadable: the biggest keep their own colour, the rest share one. */
const MAX_SERIES = PALETTE.length;

/**
 * Columns over time (days, weeks), each stacked by series (students, courses), with a legend. The
 * column's total is in the accessible name so a screen reader hears the same numbers.
 */
export function StackedColumns({
  title,
  labels,
  series,
  unit,
  tickEvery = 1,
}: {
  title: string;
  /** Column labels, already short (e.g. "12 Nov"). */
  labels: string[];
  series: { name: string; values: number[] }[];
  unit: string;
  /** Label every n-th column only, so 28 days stay legible. */
  tickEvery?: number;
}) {
  const ranked = [...series].sort((a, b) => sum(b.values) - sum(a.values)).filter((s) => sum(s.values) > 0);
  const shown =
    ranked.length > MAX_SERIES
      ? [
          ...ranked.slice(0, MAX_SERIES - 1),
          {
            name: `${ranked.length - MAX_SERIES + 1} others`,
            values: labels.map((_, i) => sum(ranked.slice(MAX_SERIES - 1).map((s) => s.values[i] ?? 0))),
          },
        ]
      : ranked;
  const totals = labels.map((_, i) => sum(shown.map((s) => s.values[i] ?? 0)));
  const axisW = 44;
  const plotH = 150;
  const colGap = labels.length > 14 ? 3 : 8;
  const colW = Math.max(8, Math.min(56, Math.floor((560 - axisW) / labels.length) - colGap));
  // Room on the right for the last column's label, which is centred under it.
  const width = axisW + labels.length * (colW + colGap) + 28;
  const height = plotH + 30;
  const max = niceMax(Math.max(0, ...totals));
  const y = (v: number) => 8 + plotH - (v / max) * plotH;
  const summary = labels.map((l, i) => `${l} ${amount(totals[i])}`).join(', ');
  return (
    <figure className="chart">
      <figcaption className="chart-title">{title}</figcaption>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        width="100%"
        style={{ maxWidth: width }}
        role="img"
        aria-label={`${title} (${unit}): ${summary}`}
      >
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line x1={axisW} x2={width} y1={y(max * f)} y2={y(max * f)} className="chart-grid" />
            <text x={axisW - 6} y={y(max * f)} textAnchor="end" dominantBaseline="middle" className="chart-value">
              {amount(max * f)}
            </text>
          </g>
        ))}
        {labels.map((l, i) => {
          const x = axisW + 4 + i * (colW + colGap);
          let base = 0;
          return (
            <g key={l}>
              {shown.map((s, k) => {
                const v = s.values[i] ?? 0;
                if (v <= 0) return null;
                const top = y(base + v);
                const h = y(base) - top;
                base += v;
                return (
                  <rect key={s.name} x={x} y={top} width={colW} height={Math.max(1, h)} className={PALETTE[k]}>
                    <title>{`${s.name}, ${l}: ${amount(v)} ${unit}`}</title>
                  </rect>
                );
              })}
              {i % tickEvery === 0 || i === labels.length - 1 ? (
                <text x={x + colW / 2} y={plotH + 24} textAnchor="middle" className="chart-value">
                  {l}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      {shown.length > 0 ? (
        <ul className="legend" aria-label={`${title}: legend`}>
          {shown.map((s, k) => (
            <li key={s.name}>
              <svg width="12" height="12" aria-hidden="true">
                <rect width="12" height="12" rx="2" className={PALETTE[k]} />
              </svg>{' '}
              {s.name} <span className="muted">({amount(sum(s.values))})</span>
            </li>
          ))}
        </ul>
      ) : (
        <p className="hint">No {unit} used in this period.</p>
      )}
    </figure>
  );
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/** A round axis top (1, 2 or 5 times a power of ten) at or above `v`, so the grid lines read well. */
function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** "Nov 30 – Dec 6, 2026": a budget week (its end is exclusive: the next Monday 00:00 UTC). */
export function weekText(week: { start: string; end: string }): string {
  const opts = { day: 'numeric', month: 'short', timeZone: 'UTC' } as const;
  const start = new Date(week.start);
  const last = new Date(Date.parse(week.end) - 1);
  if (Number.isNaN(start.getTime()) || Number.isNaN(last.getTime())) return `${week.start} – ${week.end}`;
  return `${start.toLocaleDateString(undefined, opts)} – ${last.toLocaleDateString(undefined, { ...opts, year: 'numeric' })}`;
}

/** "12 Nov" from an ISO date, in the reader's locale, without shifting the UTC day. */
export function shortDay(iso: string): string {
  const d = new Date(`${iso.slice(0, 10)}T00:00:00Z`);
  return Number.isNaN(d.getTime())
    ? iso
    : d.toLocaleDateString(undefined, { day: 'numeric', month: 'short', timeZone: 'UTC' });
}
