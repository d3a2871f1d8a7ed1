import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, type CourseQuota, type CourseUsage, type QuotaCeiling, type QuotaLimits } from '../api';
import { ErrorMessage, formatDate } from '../ui';
import { amount, LimitBars, Meter, shortDay, StackedColumns, weekText } from '../UsageCharts';

type Fail = (e: unknown, set: (m: string) => void) => void;

const USAGE_POLL_MS = 60_000;

const LIMITS: { key: keyof QuotaLimits; label: string; unit: string }[] = [
  { key: 'gpuMinutesPerWeek', label: 'GPU-minutes per student per week', unit: 'GPU-minutes' },
  { key: 'cpuHoursPerWeek', label: 'CPU-hours per student per week', unit: 'CPU-hours' },
  { key: 'maxConcurrentLabs', label: 'Labs running at once per student', unit: 'labs' },
  {
    key: 'coursePoolGpuMinutesPerWeek',
    label: "Course's GPU-minutes per week (all students)",
    unit: 'GPU-minutes',
  },
  { key: 'sliceMinutes', label: 'GPU time slice', unit: 'minutes' },
];

const limitText = (v: number | null | undefined, unit: string) =>
  v === undefined ? '—' : v === null ? 'no limit' : `${amount(v)} ${unit}`;

/** This week's minutes per student against the limit, and GPU-minutes per day over four weeks. */
export function CourseUsageSection({ courseId, tick, onError }: { courseId: string; tick: number; onError: Fail }) {
  const [usage, setUsage] = useState<CourseUsage | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setUsage(await api.courseUsage(courseId));
      setError(null);
    } catch (e) {
      onError(e, setError);
    }
  }, [courseId, onError]);

  useEffect(() => {
    void load();
  }, [load, tick]);
  useEffect(() => {
    const t = window.setInterval(() => {
      if (document.visibilityState === 'visible') void load();
    }, USAGE_POLL_MS);
    return () => window.clearInterval(t);
  }, [load]);

  return (
    <section aria-labelledby="usage-heading">
      <div className="title-row">
        <h2 id="usage-heading">Usage</h2>
        {usage ? <span className="hint push">This week: {weekText(usage.week)}</span> : null}
      </div>
      {error ? <ErrorMessage message={error} title="Could not load the course's usage:" /> : null}
      {!usage && !error ? (
        <p className="muted" aria-busy="true">
          Loading usage…
        </p>
      ) : null}
      {usage ? (
        <>
          {usage.pool.limit !== null || usage.pool.used > 0 ? (
            <div className="card meter-card">
              <Meter label="Course GPU pool this week" line={usage.pool} unit="GPU-minutes" />
            </div>
          ) : null}
          {usage.students.length === 0 ? (
            <p className="empty">No students on the roster yet.</p>
          ) : (
            <div className="chart-row">
              <LimitBars
                title="GPU-minutes this week, per student"
                rows={usage.students.map((s) => ({
                  label: s.username,
                  used: s.gpuMinutes.used,
                  left: s.gpuMinutes.left,
                }))}
                limit={usage.limits.gpuMinutesPerWeek}
                unit="GPU-min"
              />
              <StackedColumns
                title="GPU-minutes per day, last 28 days"
                labels={usage.daily.days.map(shortDay)}
                series={usage.daily.series.map((s) => ({ name: s.username, values: s.gpuMinutes }))}
                unit="GPU-minutes"
                tickEvery={7}
              />
            </div>
          )}
          {usage.students.length > 0 ? (
            <details className="usage-details">
              <summary>Numbers per student</summary>
              <div className="table-wrap">
                <table aria-label="Usage per student">
                  <thead>
                    <tr>
                      <th scope="col">Student</th>
                      <th scope="col" className="num">
                        GPU-min used
                      </th>
                      <th scope="col" className="num">
                        GPU-min left
                      </th>
                      <th scope="col" className="num">
                        CPU-h used
                      </th>
                      <th scope="col" className="num">
                        CPU-h left
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {usage.students.map((s) => (
                      <tr key={s.username}>
                        <td>
                          <strong>{s.username}</strong>
                          {s.displayName ? <span className="muted"> {s.displayName}</span> : null}
                        </td>
                        <td className="num">{amount(s.gpuMinutes.used)}</td>
                        <td className="num">{s.gpuMinutes.left === null ? 'no limit' : amount(s.gpuMinutes.left)}</td>
                        <td className="num">{amount(s.cpuHours.used)}</td>
                        <td className="num">{s.cpuHours.left === null ? 'no limit' : amount(s.cpuHours.left)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </details>
          ) : null}
        </>
      ) : null}
    </section>
  );
}

type Draft = Record<keyof QuotaLimits, string>;

/** A form's text per limit: blank for "none" (no tightening, or no limit in a ceiling). */
const draftOf = (values: Partial<QuotaLimits>): Draft =>
  Object.fromEntries(LIMITS.map(({ key }) => [key, values[key] == null ? '' : String(values[key])])) as Draft;

const ratesText = (rates: Record<string, number>) =>
  Object.entries(rates)
    .map(([m, r]) => `${m} = ${r}`)
    .join('\n');

/**
 * Reads a form's numbers. Blank means "none" (no tightening, or no limit in a ceiling); anything
 * else must be a number, or the field is named and nothing is sent.
 */
function parseDraft(
  draft: Draft,
  what: string,
): { ok: true; value: Record<string, number | null> } | { ok: false; reason: string } {
  const out: Record<string, number | null> = {};
  for (const { key, label } of LIMITS) {
    const raw = draft[key].trim();
    if (raw === '') {
      out[key] = null;
      continue;
    }
    const n = Number(raw);
    if (!Number.isFinite(n)) return { ok: false, reason: `${what}: "${raw}" is not a number (${label}).` };
    out[key] = n;
  }
  return { ok: true, value: out };
}

function parseRates(text: string): { ok: true; value: Record<string, number> } | { ok: false; reason: string } {
  const out: Record<string, number> = {};
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    const m = /^(.+?)\s*[=:]\s*([^=:]+)$/.exec(line);
    const rate = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(rate))
      return { ok: false, reason: `GPU rates, line ${i + 1} ("${line}"): write MODEL = RATE, e.g. RTX 3060 = 2.` };
    out[m[1].trim()] = rate;
  }
  return { ok: true, value: out };
}

/**
 * What is in force (campus IT's ceiling, tightened by the instructors), with a form for the
 * instructors' tightening and, for campus IT, the ceiling and GPU rates.
 */
export function QuotaSection({
  courseId,
  canTighten,
  isAdmin,
  onSaved,
  onError,
}: {
  courseId: string;
  canTighten: boolean;
  isAdmin: boolean;
  onSaved: () => void;
  onError: Fail;
}) {
  const [quota, setQuota] = useState<CourseQuota | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setQuota(await api.courseQuota(courseId));
      setLoadError(null);
    } catch (e) {
      onError(e, setLoadError);
    }
  }, [courseId, onError]);

  useEffect(() => {
    void load();
  }, [load]);

  const saved = (q: CourseQuota) => {
    setQuota(q);
    onSaved();
  };

  return (
    <section aria-labelledby="quota-heading">
      <h2 id="quota-heading">Quota</h2>
      {loadError ? <ErrorMessage message={loadError} title="Could not load the course's quota:" /> : null}
      {!quota && !loadError ? (
        <p className="muted" aria-busy="true">
          Loading the quota…
        </p>
      ) : null}
      {quota ? (
        <>
          <div className="table-wrap">
            <table aria-label="Quota in force">
              <thead>
                <tr>
                  <th scope="col">Limit</th>
                  <th scope="col">Campus IT's ceiling</th>
                  <th scope="col">Instructors' tightening</th>
                  <th scope="col">In force</th>
                </tr>
              </thead>
              <tbody>
                {LIMITS.map(({ key, label, unit }) => (
                  <tr key={key}>
                    <td>{label}</td>
                    <td>{limitText(quota.ceiling[key], unit)}</td>
                    <td>{limitText(quota.tightening[key], unit)}</td>
                    <td>
                      <strong>{limitText(quota.effective[key], unit)}</strong>
                    </td>
                  </tr>
                ))}
                <tr>
                  <td>GPU rates (GPU-minutes charged per minute)</td>
                  <td colSpan={3}>
                    {Object.keys(quota.effective.gpuRates).length === 0
                      ? "each GPU's own rate"
                      : Object.entries(quota.effective.gpuRates)
                          .map(([m, r]) => `${m}: ${r}×`)
                          .join(', ')}
                  </td>
                </tr>
              </tbody>
            </table>
          </div>
          <p className="hint">
            Last changed by {quota.updatedBy}
            {quota.updatedAt ? ` on ${formatDate(quota.updatedAt)}` : ''}. Budgets refill every Monday 00:00 UTC.
          </p>
          {canTighten ? <TighteningForm courseId={courseId} quota={quota} onSaved={saved} onError={onError} /> : null}
          {isAdmin ? <CeilingForm courseId={courseId} quota={quota} onSaved={saved} onError={onError} /> : null}
          {!canTighten && !isAdmin ? (
            <p className="hint">Only the course's instructors (and campus IT) can change its quota.</p>
          ) : null}
        </>
      ) : null}
    </section>
  );
}

function TighteningForm({
  courseId,
  quota,
  onSaved,
  onError,
}: {
  courseId: string;
  quota: CourseQuota;
  onSaved: (q: CourseQuota) => void;
  onError: Fail;
}) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(quota.tightening));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  useEffect(() => setDraft(draftOf(quota.tightening)), [quota.tightening]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setDone(null);
    const parsed = parseDraft(draft, 'Tightening');
    if (!parsed.ok) {
      setError(parsed.reason);
      return;
    }
    // Only what changed: a blank field that was never set stays unset rather than being "cleared".
    const body: Record<string, number | null> = {};
    for (const { key } of LIMITS) {
      const was = quota.tightening[key];
      const now = parsed.value[key];
      if ((was ?? null) !== now) body[key] = now;
    }
    if (Object.keys(body).length === 0) {
      setDone('Nothing changed.');
      return;
    }
    setBusy(true);
    try {
      onSaved(await api.putCourseQuota(courseId, { tightening: body }));
      setDone('Quota saved: the new limits apply to the next launch.');
    } catch (err) {
      onError(err, setError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card form" onSubmit={submit} aria-labelledby="tighten-heading">
      <h3 id="tighten-heading">Tighten for this course</h3>
      <p className="hint">
        Instructors can set lower limits than campus IT's ceiling, never higher. Leave a field blank to use the ceiling.
      </p>
      <fieldset disabled={busy}>
        <div className="field-row">
          {LIMITS.map(({ key, label }) => (
            <div className="field" key={key}>
              <label htmlFor={`tighten-${key}`}>{label}</label>
              <input
                id={`tighten-${key}`}
                inputMode="decimal"
                value={draft[key]}
                placeholder={quota.ceiling[key] === null ? 'no limit' : `at most ${amount(quota.ceiling[key])}`}
                onChange={(e) => setDraft({ ...draft, [key]: e.target.value })}
              />
            </div>
          ))}
        </div>
      </fieldset>
      {error ? <ErrorMessage message={error} title="Not saved:" /> : null}
      <p className="hint" role="status" aria-live="polite">
        {done ?? ''}
      </p>
      <button type="submit" className="btn btn-primary" disabled={busy}>
        {busy ? 'Saving…' : 'Save tightening'}
      </button>
    </form>
  );
}

function CeilingForm({
  courseId,
  quota,
  onSaved,
  onError,
}: {
  courseId: string;
  quota: CourseQuota;
  onSaved: (q: CourseQuota) => void;
  onError: Fail;
}) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(quota.ceiling));
  const [rates, setRates] = useState(() => ratesText(quota.ceiling.gpuRates));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  useEffect(() => {
    setDraft(draftOf(quota.ceiling));
    setRates(ratesText(quota.ceiling.gpuRates));
  }, [quota.ceiling]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setDone(null);
    const parsed = parseDraft(draft, 'Ceiling');
    if (!parsed.ok) {
      setError(parsed.reason);
      return;
    }
    const parsedRates = parseRates(rates);
    if (!parsedRates.ok) {
      setError(parsedRates.reason);
      return;
    }
    const body: Partial<QuotaCeiling> = {};
    for (const { key } of LIMITS) {
      if ((quota.ceiling[key] ?? null) !== parsed.value[key])
        (body as Record<string, number | null>)[key] = parsed.value[key];
    }
    if (JSON.stringify(parsedRates.value) !== JSON.stringify(quota.ceiling.gpuRates)) body.gpuRates = parsedRates.value;
    if (Object.keys(body).length === 0) {
      setDone('Nothing changed.');
      return;
    }
    setBusy(true);
    try {
      onSaved(await api.putCourseQuota(courseId, { ceiling: body }));
      setDone('Ceiling saved.');
    } catch (err) {
      onError(err, setError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card form" onSubmit={submit} aria-labelledby="ceiling-heading">
      <h3 id="ceiling-heading">Ceiling (campus IT)</h3>
      <p className="hint">The most this course may use. Blank means no limit (the GPU slice must have a value).</p>
      <fieldset disabled={busy}>
        <div className="field-row">
          {LIMITS.map(({ key, label }) => (
            <div className="field" key={key}>
              <label htmlFor={`ceiling-${key}`}>{label}</label>
              <input
                id={`ceiling-${key}`}
                inputMode="decimal"
                value={draft[key]}
                placeholder="no limit"
                onChange={(e) => setDraft({ ...draft, [key]: e.target.value })}
              />
            </div>
          ))}
        </div>
        <div className="field">
          <label htmlFor="ceiling-rates">GPU rates</label>
          <textarea
            id="ceiling-rates"
            className="mono"
            rows={3}
            value={rates}
            placeholder={'RTX 3060 = 1\nA100 = 4'}
            onChange={(e) => setRates(e.target.value)}
            aria-describedby="ceiling-rates-hint"
          />
          <p className="hint" id="ceiling-rates-hint">
            One GPU model per line, <code>MODEL = RATE</code>: GPU-minutes charged per minute on that model.
          </p>
        </div>
      </fieldset>
      {error ? <ErrorMessage message={error} title="Not saved:" /> : null}
      <p className="hint" role="status" aria-live="polite">
        {done ?? ''}
      </p>
      <button type="submit" className="btn btn-primary" disabled={busy}>
        {busy ? 'Saving…' : 'Save ceiling'}
      </button>
    </form>
  );
}
