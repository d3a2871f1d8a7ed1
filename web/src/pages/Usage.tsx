import { useCallback, useEffect, useState } from 'react';
import { ApiError, api, errorText, type CampusUsage } from '../api';
import { Link } from '../router';
import { ErrorMessage } from '../ui';
import { amount, Meter, shortDay, StackedColumns, weekText } from '../UsageCharts';

const REFRESH_MS = 30_000;

/** Campus IT: every live course's consumption this week, and GPU-minutes per week over eight weeks. */
export function UsagePage({ onUnauthorized }: { onUnauthorized: () => void }) {
  const [usage, setUsage] = useState<CampusUsage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [updated, setUpdated] = useState<Date | null>(null);

  const load = useCallback(async () => {
    try {
      setUsage(await api.campusUsage());
      setError(null);
      setUpdated(new Date());
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

  const totals = usage
    ? {
        gpu: usage.courses.reduce((a, c) => a + c.gpuMinutesThisWeek, 0),
        cpu: usage.courses.reduce((a, c) => a + c.cpuHoursThisWeek, 0),
        running: usage.courses.reduce((a, c) => a + c.labsRunning, 0),
        queued: usage.courses.reduce((a, c) => a + c.gpuQueued, 0),
      }
    : null;

  return (
    <section aria-labelledby="usage-heading">
      <div className="title-row">
        <h1 id="usage-heading">Usage</h1>
        <button type="button" className="btn btn-secondary btn-small push" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      <p className="muted">
        GPU and CPU time used by each course, from the usage ledger.
        {usage ? ` This week: ${weekText(usage.week)}.` : ''}
        {updated ? ` Updated ${updated.toLocaleTimeString()}.` : ''}
      </p>
      {error ? (
        <ErrorMessage
          message={error}
          title={usage ? 'Refresh failed (showing the last result):' : 'Could not load usage:'}
        />
      ) : null}
      {!usage && !error ? (
        <p className="muted" aria-busy="true">
          Loading usage…
        </p>
      ) : null}
      {usage && usage.courses.length === 0 ? <p className="empty">No live courses yet.</p> : null}
      {usage && totals && usage.courses.length > 0 ? (
        <>
          <div className="table-wrap">
            <table aria-labelledby="usage-heading">
              <thead>
                <tr>
                  <th scope="col">Course</th>
                  <th scope="col" className="num">
                    Students
                  </th>
                  <th scope="col" className="num">
                    GPU-min this week
                  </th>
                  <th scope="col" className="num">
                    CPU-h this week
                  </th>
                  <th scope="col">Course GPU pool</th>
                  <th scope="col" className="num">
                    Labs running
                  </th>
                  <th scope="col" className="num">
                    GPU queue
                  </th>
                </tr>
              </thead>
              <tbody>
                {usage.courses.map((c) => (
                  <tr key={c.course.id}>
                    <td>
                      <Link href={`/courses/${encodeURIComponent(c.course.id)}`}>
                        <strong>{c.course.code}</strong> {c.course.term}
                      </Link>
                      <div className="hint">{c.course.title}</div>
                    </td>
                    <td className="num">{c.students}</td>
                    <td className="num">{amount(c.gpuMinutesThisWeek)}</td>
                    <td className="num">{amount(c.cpuHoursThisWeek)}</td>
                    <td className="pool-cell">
                      <Meter label={`${c.course.code} pool`} line={c.pool} unit="GPU-minutes" />
                    </td>
                    <td className="num">{c.labsRunning}</td>
                    <td className="num">{c.gpuQueued > 0 ? <strong>{c.gpuQueued} waiting</strong> : '0'}</td>
                  </tr>
                ))}
              </tbody>
              <tfoot>
                <tr>
                  <th scope="row">All courses</th>
                  <td className="num">{usage.courses.reduce((a, c) => a + c.students, 0)}</td>
                  <td className="num">{amount(totals.gpu)}</td>
                  <td className="num">{amount(totals.cpu)}</td>
                  <td />
                  <td className="num">{totals.running}</td>
                  <td className="num">{totals.queued}</td>
                </tr>
              </tfoot>
            </table>
          </div>
          <h2>Last eight weeks</h2>
          <StackedColumns
            title="GPU-minutes per week (starting Monday), by course"
            labels={usage.weeks.map(shortDay)}
            series={usage.courses.map((c) => ({ name: `${c.course.code} ${c.course.term}`, values: c.weekly }))}
            unit="GPU-minutes"
          />
          <p className="hint">
            Weeks start on Monday 00:00 UTC. Per-student numbers are on each course's page; every minute is in the{' '}
            <Link href="/ledger">ledger</Link>.
          </p>
        </>
      ) : null}
    </section>
  );
}
