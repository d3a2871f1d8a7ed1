import { useCallback, useState } from 'react';
import {
  ApiError,
  api,
  errorText,
  type BurnInRun,
  type RigAlert,
  type RigBoard,
  type RigReliability,
  type RigState,
} from '../api';
import { Link } from '../router';
import { Badge, ErrorMessage, formatDate, usePolling } from '../ui';

/** What the board shows beside each rig, from the other rig APIs (each may not exist yet: null). */
export interface BoardExtras {
  reliability: Map<string, RigReliability> | null;
  burnIns: Map<string, BurnInRun> | null;
}

const STATE_WEIGHT: Record<RigState, number> = {
  maintenance: 3,
  draining: 2,
  'burn-in': 2,
  registered: 1,
  active: 0,
  retired: -1,
};

/** Worst first: critical alerts, then warnings, then rigs out of service, then by name. */
function worstFirst(a: RigBoard, b: RigBoard): number {
  const weight = (r: RigBoard) =>
    r.alerts.filter((x) => x.severity === 'critical').length * 100 +
    r.alerts.filter((x) => x.severity === 'warning').length * 10 +
    STATE_WEIGHT[r.state];
  return weight(b) - weight(a) || a.name.localeCompare(b.name);
}

export const gib = (mb: number | null | undefined) =>
  mb === null || mb === undefined ? '—' : `${(mb / 1024).toFixed(1)} GiB`;

export function AlertList({ alerts }: { alerts: RigAlert[] }) {
  if (!alerts.length) return <span className="muted small">none</span>;
  return (
    <ul className="alerts" aria-label="Alerts">
      {alerts.map((a, i) => (
        <li key={i} className={`alert-line alert-line-${a.severity}`}>
          <Badge tone={a.severity === 'critical' ? 'bad' : 'warn'}>{a.severity}</Badge> {a.text}
        </li>
      ))}
    </ul>
  );
}

export function BurnInBadge({ run }: { run: BurnInRun | undefined | null }) {
  if (!run) return <span className="muted small">none yet</span>;
  const tone = run.status === 'passed' ? 'ok' : run.status === 'failed' ? 'bad' : 'neutral';
  return (
    <>
      <Badge tone={tone}>{run.status}</Badge>
      <div className="muted small">
        {run.status === 'running'
          ? `${run.progress.done}/${run.progress.total}${run.progress.current ? `: ${run.progress.current}` : ''}`
          : formatDate(run.finishedAt ?? run.startedAt)}
      </div>
      {run.status === 'failed' && run.reason ? <div className="small error-text">{run.reason}</div> : null}
    </>
  );
}

export function ScoreCell({ score, extrasLoaded }: { score: RigReliability | undefined; extrasLoaded: boolean }) {
  if (!extrasLoaded || !score) return <span className="muted small">not yet scored</span>;
  return (
    <>
      <Badge tone={score.belowFloor ? 'bad' : score.score >= 0.97 ? 'ok' : 'warn'}>{score.score.toFixed(2)}</Badge>
      <div className="muted small">
        floor {score.floor.toFixed(2)} · {score.faults} fault(s)
      </div>
    </>
  );
}

/** A bar with its figure, for memory and disk use on the board. */
function UseBar({ used, total, label }: { used: number; total: number; label: string }) {
  const pct = total > 0 ? Math.min(100, Math.max(0, (100 * used) / total)) : 0;
  const tone = pct >= 95 ? 'bad' : pct >= 85 ? 'warn' : 'ok';
  return (
    <div className="usebar" role="img" aria-label={`${label}: ${Math.round(pct)}% used`}>
      <div className={`usebar-fill usebar-${tone}`} style={{ width: `${pct}%` }} />
    </div>
  );
}

/** Campus IT: every rig at a glance, worst first, with load, memory, disk, slots, score, burn-in and alerts. */
export function RigsPage({ onUnauthorized }: { onUnauthorized: () => void }) {
  const [rigs, setRigs] = useState<RigBoard[] | null>(null);
  const [extras, setExtras] = useState<BoardExtras>({ reliability: null, burnIns: null });
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const [board, scores, runs] = await Promise.all([
        api.rigs(),
        // Scores and burn-ins are extras: the board still shows the rigs without them.
        api.reliability().catch(() => null),
        api.latestBurnIns().catch(() => null),
      ]);
      setRigs(board);
      setExtras({
        reliability: scores ? new Map(scores.map((s) => [s.rig, s])) : null,
        burnIns: runs ? new Map(runs.map((r) => [r.rig, r])) : null,
      });
      setError(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) onUnauthorized();
      else setError(errorText(e));
    }
  }, [onUnauthorized]);
  usePolling(load);

  const sorted = rigs ? [...rigs].sort(worstFirst) : null;
  const critical = rigs?.filter((r) => r.alerts.some((a) => a.severity === 'critical')).length ?? 0;
  const warning = rigs?.filter((r) => r.alerts.length && r.alerts.every((a) => a.severity === 'warning')).length ?? 0;

  return (
    <section aria-labelledby="rigs-heading">
      <div className="title-row">
        <h1 id="rigs-heading">Rigs</h1>
        <Link href="/rigs/new" className="btn btn-small push">
          Add rig
        </Link>
        <button type="button" className="btn btn-secondary btn-small" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      <p className="muted">
        The pool's rigs, worst first. Only active rigs take new labs; draining lets running labs finish until the
        deadline.
      </p>
      {error ? <ErrorMessage message={error} title="Could not load the rigs:" /> : null}
      {rigs && rigs.length > 0 ? (
        <p className="board-summary" aria-live="polite">
          {rigs.length} rig(s) · <strong>{rigs.filter((r) => r.state === 'active').length}</strong> active ·{' '}
          <span className={critical ? 'error-text' : undefined}>{critical} with critical alerts</span> · {warning} with
          warnings
        </p>
      ) : null}
      {rigs && rigs.length === 0 ? (
        <p>
          No rigs are registered yet: <Link href="/rigs/new">add one</Link> (or npx riglab rig add NAME --endpoint URL).
        </p>
      ) : null}
      {sorted && sorted.length > 0 ? (
        <div className="table-wrap">
          <table className="table rig-board">
            <thead>
              <tr>
                <th>Rig</th>
                <th>State</th>
                <th>Load</th>
                <th>Memory free</th>
                <th>Disk free</th>
                <th>Slots</th>
                <th>Reliability</th>
                <th>Burn-in</th>
                <th>Alerts</th>
              </tr>
            </thead>
            <tbody>
              {sorted.map((r) => (
                <tr key={r.id} aria-label={`rig ${r.name}`} className={r.alerts.length ? 'rig-row-alerted' : undefined}>
                  <td>
                    <Link href={`/rigs/${encodeURIComponent(r.name)}`}>
                      <strong>{r.name}</strong>
                    </Link>
                    <div className="muted small">
                      {r.cpus} CPUs · {gib(r.memoryMb)}
                      {r.driver === 'none' ? '' : ` · ${r.driver}`}
                    </div>
                  </td>
                  <td>
                    <span className={`badge state-${r.state}`}>{r.state}</span>
                    {r.state === 'draining' && r.drainDeadline ? (
                      <div className="muted small">until {formatDate(r.drainDeadline)}</div>
                    ) : null}
                    <div className="muted small reason">{r.stateReason}</div>
                  </td>
                  <td className="num">
                    {r.load1 === null ? '—' : r.load1.toFixed(2)}
                    {r.cpusSeen ? <div className="muted small">of {r.cpusSeen} CPUs</div> : null}
                  </td>
                  <td>
                    {r.memoryAvailableMb !== null && r.memoryTotalMb ? (
                      <>
                        {gib(r.memoryAvailableMb)} <span className="muted small">of {gib(r.memoryTotalMb)}</span>
                        <UseBar used={r.memoryTotalMb - r.memoryAvailableMb} total={r.memoryTotalMb} label="memory" />
                      </>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td>
                    {r.diskFreeMb !== null && r.diskTotalMb ? (
                      <>
                        {gib(r.diskFreeMb)} <span className="muted small">of {gib(r.diskTotalMb)}</span>
                        <UseBar used={r.diskTotalMb - r.diskFreeMb} total={r.diskTotalMb} label="disk" />
                      </>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td className="num">
                    {r.slots.total ? `${r.slots.used}/${r.slots.total}` : <span className="muted small">no GPUs</span>}
                    {r.gpus.some((g) => !g.healthy) ? (
                      <div className="small error-text">{r.gpus.filter((g) => !g.healthy).length} quarantined</div>
                    ) : null}
                  </td>
                  <td>
                    <ScoreCell score={extras.reliability?.get(r.name)} extrasLoaded={extras.reliability !== null} />
                  </td>
                  <td>
                    {extras.burnIns ? (
                      <BurnInBadge run={extras.burnIns.get(r.name)} />
                    ) : (
                      <span className="muted small">—</span>
                    )}
                  </td>
                  <td>
                    <AlertList alerts={r.alerts} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
