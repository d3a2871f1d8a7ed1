import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { ApiError, api, errorText, type LedgerEntry, type LedgerProblem, type LedgerVerifyReport } from '../api';
import { Badge, ErrorMessage, formatDate } from '../ui';
import { amount } from '../UsageCharts';

const PAGE = 25;

type Fail = (e: unknown, set: (m: string) => void) => void;

/** What each finding means for the person reading the report. */
const PROBLEM_WORDS: Record<LedgerProblem, string> = {
  altered: 'was changed after it was written',
  removed: 'is missing: entries were deleted',
  inserted: 'was slipped in between two entries that were written one after the other',
  reordered: 'is out of order: entries were moved',
};

const KIND_TONE: Record<LedgerEntry['kind'], 'ok' | 'bad' | 'warn' | 'neutral'> = {
  refill: 'ok',
  debit: 'neutral',
  credit: 'ok',
  adjustment: 'warn',
};

const signed = (n: number) => (n === 0 ? '0' : n > 0 ? `+${amount(n)}` : `−${amount(-n)}`);

/** Campus IT: check the ledger's hash chain, read its newest entries, export it, correct a balance. */
export function LedgerPage({ onUnauthorized }: { onUnauthorized: () => void }) {
  const [tick, setTick] = useState(0);
  const fail: Fail = useCallback(
    (e, set) => {
      if (e instanceof ApiError && e.status === 401) onUnauthorized();
      else set(errorText(e));
    },
    [onUnauthorized],
  );
  return (
    <section aria-labelledby="ledger-heading">
      <h1 id="ledger-heading">Usage ledger</h1>
      <p className="muted">
        Every GPU- and CPU-minute granted, used or corrected, in an append-only chain where each entry's hash covers the
        one before it: a changed, deleted or inserted entry breaks the chain, and Verify finds it.
      </p>
      <Verify onError={fail} />
      <Entries tick={tick} onError={fail} />
      <Adjustment onDone={() => setTick((t) => t + 1)} onError={fail} />
    </section>
  );
}

function Verify({ onError }: { onError: Fail }) {
  const [report, setReport] = useState<LedgerVerifyReport | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const verify = async () => {
    setBusy(true);
    setError(null);
    try {
      setReport(await api.verifyLedger());
    } catch (e) {
      onError(e, setError);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="verify-heading">
      <div className="title-row">
        <h2 id="verify-heading">Integrity</h2>
        <button type="button" className="btn btn-primary push" disabled={busy} onClick={() => void verify()}>
          {busy ? 'Verifying…' : 'Verify chain'}
        </button>
        <a className="btn btn-secondary" href={api.ledgerExportUrl('csv')} download>
          Export CSV
        </a>
        <a className="btn btn-secondary" href={api.ledgerExportUrl('json')} download>
          Export JSON
        </a>
      </div>
      {error ? <ErrorMessage message={error} title="Could not verify:" /> : null}
      {report ? <VerifyReport report={report} /> : null}
      {!report && !error ? (
        <p className="hint">
          Verify recomputes every entry's hash (a few seconds per million entries). Exports hold every column, hashes
          included, so an auditor can check the chain offline.
        </p>
      ) : null}
    </section>
  );
}

function VerifyReport({ report }: { report: LedgerVerifyReport }) {
  const head = report.headSeq ? `entry #${report.headSeq}` : 'no entries yet';
  const took = `checked in ${report.durationMs < 1000 ? `${Math.round(report.durationMs)} ms` : `${(report.durationMs / 1000).toFixed(1)} s`}`;
  if (report.ok || !report.firstBad)
    return (
      <div className="alert alert-ok" role="status">
        <strong>The chain is intact.</strong> {report.entries.toLocaleString()}{' '}
        {report.entries === 1 ? 'entry' : 'entries'}, newest {head}
        {report.headHash ? (
          <>
            {' '}
            (hash <code title={report.headHash}>{report.headHash.slice(0, 16)}…</code>)
          </>
        ) : null}
        , {took}.
      </div>
    );
  const bad = report.firstBad;
  return (
    <div className="alert alert-error" role="alert">
      <strong>
        The chain is broken at entry #{bad.seq}: it {PROBLEM_WORDS[bad.problem] ?? bad.problem}.
      </strong>
      <div>{bad.detail.charAt(0).toUpperCase() + bad.detail.slice(1)}.</div>
      <div className="hint">
        {report.entries.toLocaleString()} entries read, newest {head}, {took}. Entries after the first bad one are
        counted but not judged: fix or explain this one, then verify again.
      </div>
    </div>
  );
}

function Entries({ tick, onError }: { tick: number; onError: Fail }) {
  const [user, setUser] = useState('');
  const [course, setCourse] = useState('');
  const [filter, setFilter] = useState<{ user?: string; course?: string }>({});
  /** The `before` of each page shown so far: the last is this page's, popping goes to newer entries. */
  const [pages, setPages] = useState<(string | undefined)[]>([undefined]);
  const [data, setData] = useState<{ entries: LedgerEntry[]; nextBefore: string | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const before = pages[pages.length - 1];

  const load = useCallback(async () => {
    try {
      setData(await api.ledger({ ...filter, limit: PAGE, before }));
      setError(null);
    } catch (e) {
      setData(null); // the table would show entries of another filter under the error
      onError(e, setError);
    }
  }, [filter, before, onError]);

  useEffect(() => {
    void load();
  }, [load, tick]);

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setFilter({ user: user.trim() || undefined, course: course.trim() || undefined });
    setPages([undefined]);
  };

  return (
    <section aria-labelledby="entries-heading">
      <h2 id="entries-heading">Entries</h2>
      <form className="inline ledger-filter" onSubmit={apply}>
        <div className="field">
          <label htmlFor="ledger-user">Username</label>
          <input id="ledger-user" value={user} onChange={(e) => setUser(e.target.value)} placeholder="any" />
        </div>
        <div className="field">
          <label htmlFor="ledger-course">Course</label>
          <input
            id="ledger-course"
            value={course}
            onChange={(e) => setCourse(e.target.value)}
            placeholder="any (CODE:TERM)"
          />
        </div>
        <button type="submit" className="btn btn-secondary align-end">
          Filter
        </button>
      </form>
      {error ? <ErrorMessage message={error} title="Could not load the entries:" /> : null}
      {data && data.entries.length === 0 ? (
        <p className="empty">No entries{filter.user || filter.course ? ' match the filter' : ' yet'}.</p>
      ) : null}
      {data && data.entries.length > 0 ? (
        <div className="table-wrap">
          <table aria-label="Ledger entries">
            <thead>
              <tr>
                <th scope="col" className="num">
                  Seq
                </th>
                <th scope="col">When</th>
                <th scope="col">Kind</th>
                <th scope="col">Student · course</th>
                <th scope="col" className="num">
                  GPU-min
                </th>
                <th scope="col" className="num">
                  CPU-min
                </th>
                <th scope="col">By · why</th>
              </tr>
            </thead>
            <tbody>
              {data.entries.map((e) => (
                <tr key={e.seq}>
                  <td className="num">{e.seq}</td>
                  <td className="nowrap">{formatDate(e.at)}</td>
                  <td>
                    <Badge tone={KIND_TONE[e.kind] ?? 'neutral'}>{e.kind}</Badge>
                  </td>
                  <td>
                    {e.username ?? '—'}
                    {e.course ? <div className="hint">{e.course}</div> : null}
                  </td>
                  <td className="num">{signed(e.gpuMinutes)}</td>
                  <td className="num">{signed(e.cpuMinutes)}</td>
                  <td>
                    <span className="mono">{e.actor}</span>
                    <div className="hint">{e.reason}</div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <div className="inline pager">
        <button
          type="button"
          className="btn btn-secondary btn-small"
          disabled={pages.length <= 1}
          onClick={() => setPages(pages.slice(0, -1))}
        >
          ← Newer
        </button>
        <button
          type="button"
          className="btn btn-secondary btn-small"
          disabled={!data?.nextBefore}
          onClick={() => data?.nextBefore && setPages([...pages, data.nextBefore])}
        >
          Older →
        </button>
        <span className="hint">
          Page {pages.length}
          {data && data.entries.length > 0
            ? `: entries #${data.entries[data.entries.length - 1].seq} to #${data.entries[0].seq}`
            : ''}
        </span>
      </div>
    </section>
  );
}

function Adjustment({ onDone, onError }: { onDone: () => void; onError: Fail }) {
  const [form, setForm] = useState({ username: '', course: '', gpuMinutes: '', cpuMinutes: '', reason: '' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<LedgerEntry | null>(null);
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setDone(null);
    const num = (raw: string, name: string): number | undefined | Error => {
      if (!raw.trim()) return undefined;
      const n = Number(raw.trim().replace(/^\+/, ''));
      return Number.isFinite(n) ? n : new Error(`${name} must be a number, e.g. 30 or -15 (got "${raw}").`);
    };
    const gpu = num(form.gpuMinutes, 'GPU-minutes');
    const cpu = num(form.cpuMinutes, 'CPU-minutes');
    for (const v of [gpu, cpu])
      if (v instanceof Error) {
        setError(v.message);
        return;
      }
    setBusy(true);
    try {
      const entry = await api.adjustLedger({
        username: form.username.trim(),
        course: form.course.trim(),
        ...(gpu !== undefined ? { gpuMinutes: gpu as number } : {}),
        ...(cpu !== undefined ? { cpuMinutes: cpu as number } : {}),
        reason: form.reason,
      });
      setDone(entry);
      setForm({ ...form, gpuMinutes: '', cpuMinutes: '', reason: '' });
      onDone();
    } catch (err) {
      onError(err, setError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="adjust-heading">
      <h2 id="adjust-heading">Manual adjustment</h2>
      <form className="card form" onSubmit={submit}>
        <p className="hint">
          Gives (positive) or takes (negative) minutes for one student in one course, this week. It is a new entry with
          you as its author; nothing already written changes.
        </p>
        <fieldset disabled={busy}>
          <div className="field-row">
            <div className="field">
              <label htmlFor="adjust-user">Username</label>
              <input id="adjust-user" value={form.username} onChange={set('username')} autoComplete="off" />
            </div>
            <div className="field">
              <label htmlFor="adjust-course">Course (CODE:TERM)</label>
              <input id="adjust-course" value={form.course} onChange={set('course')} placeholder="CS101:2026F" />
            </div>
          </div>
          <div className="field-row">
            <div className="field">
              <label htmlFor="adjust-gpu">GPU-minutes</label>
              <input
                id="adjust-gpu"
                inputMode="decimal"
                value={form.gpuMinutes}
                onChange={set('gpuMinutes')}
                placeholder="e.g. 30 or -15"
              />
            </div>
            <div className="field">
              <label htmlFor="adjust-cpu">CPU core-minutes</label>
              <input
                id="adjust-cpu"
                inputMode="decimal"
                value={form.cpuMinutes}
                onChange={set('cpuMinutes')}
                placeholder="optional"
              />
            </div>
          </div>
          <div className="field">
            <label htmlFor="adjust-reason">Reason</label>
            <textarea
              id="adjust-reason"
              rows={2}
              value={form.reason}
              onChange={set('reason')}
              placeholder="e.g. rig-03 crashed during the exam: minutes given back"
            />
          </div>
        </fieldset>
        {error ? <ErrorMessage message={error} title="Not recorded:" /> : null}
        {done ? (
          <div className="alert alert-ok" role="status">
            Recorded as entry #{done.seq}: {signed(done.gpuMinutes)} GPU-minutes, {signed(done.cpuMinutes)} CPU-minutes
            for {done.username} in {done.course}.
          </div>
        ) : null}
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Recording…' : 'Record adjustment'}
        </button>
      </form>
    </section>
  );
}
