import { useCallback, useEffect, useRef, useState } from 'react';
import {
  ApiError,
  api,
  errorText,
  retryOnceWhenBusy,
  type Lab,
  type LabProgressEvent,
  type LabState,
  type LaunchableTemplate,
  type MyUsage,
} from '../api';
import { Badge, ErrorMessage, formatDate } from '../ui';
import { amount, Meter } from '../UsageCharts';

const LIVE: LabState[] = ['queued', 'placing', 'starting', 'ready', 'stopping'];
const LAUNCHING: LabState[] = ['queued', 'placing', 'starting'];
const TRANSITIONAL: LabState[] = [...LAUNCHING, 'stopping'];
const FAST_POLL_MS = 5_000;
const SLOW_POLL_MS = 30_000;
const RECENT = 10;
const NEWS_DEBOUNCE_MS = 500;
const USAGE_POLL_MS = 30_000;
/** Below this much slice left the countdown turns amber (the portal warns at 10 minutes). */
const SLICE_WARN_S = 10 * 60;

const STATE_LABEL: Record<LabState, string> = {
  queued: 'Queued',
  placing: 'Finding a rig',
  starting: 'Starting',
  ready: 'Ready',
  stopping: 'Stopping',
  stopped: 'Stopped',
  failed: 'Failed',
  lost: 'Lost',
};

/** Where the bar stands before the first progress event arrives. */
const STATE_PROGRESS: Partial<Record<LabState, number>> = { queued: 0, placing: 10, starting: 20 };

const isLive = (l: Lab) => LIVE.includes(l.state);

/** A lab's state as text on a coloured badge; `launching` folds queued/placing/starting into one word. */
export function StateBadge({ state, launching = false }: { state: LabState; launching?: boolean }) {
  const tone =
    state === 'ready'
      ? 'ok'
      : state === 'failed' || state === 'lost'
        ? 'bad'
        : state === 'stopped'
          ? 'neutral'
          : 'warn';
  const label = launching && LAUNCHING.includes(state) ? 'Launching' : (STATE_LABEL[state] ?? state);
  return <Badge tone={tone}>{label}</Badge>;
}

function memory(mb: number): string {
  if (mb >= 1024) {
    const gb = mb / 1024;
    return `${Number.isInteger(gb) ? gb : gb.toFixed(1)} GB memory`;
  }
  return `${mb} MB memory`;
}

function cpus(n: number): string {
  const v = Number.isInteger(n) ? String(n) : n.toFixed(1);
  return `${v} CPU${n === 1 ? '' : 's'}`;
}

/** The culler writes ISO timestamps into its warnings; show them in the reader's local time. */
function localTimes(text: string): string {
  return text.replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z/g, (iso) => formatDate(iso, iso));
}

/** Progress messages come from several places; start each with a capital letter. */
function sentence(text: string): string {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

/** Counts down to `until` (ms since epoch), once a second. */
function useSecondsLeft(until: number | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (until === null) return;
    setNow(Date.now());
    const t = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(t);
  }, [until]);
  return until === null ? 0 : Math.max(0, Math.ceil((until - now) / 1000));
}

function BusyNotice({ until }: { until: number | null }) {
  const left = useSecondsLeft(until);
  return (
    <p className="hint" role="status" aria-live="polite">
      {until !== null ? `The portal is too busy, retrying in ${left} s…` : ''}
    </p>
  );
}

export function LabsPage({ onUnauthorized }: { onUnauthorized: () => void }) {
  const [templates, setTemplates] = useState<LaunchableTemplate[] | null>(null);
  const [templatesError, setTemplatesError] = useState<string | null>(null);
  const [labs, setLabs] = useState<Lab[] | null>(null);
  const [labsError, setLabsError] = useState<string | null>(null);
  const [updated, setUpdated] = useState<Date | null>(null);
  const [busyUntil, setBusyUntil] = useState<number | null>(null);
  /** Bumped whenever minutes may have moved (a launch, a stop, a lab's news): the week panel reloads. */
  const [usageTick, setUsageTick] = useState(0);
  const seq = useRef(0);

  const fail = useCallback(
    (e: unknown, set: (m: string) => void) => {
      if (e instanceof ApiError && e.status === 401) onUnauthorized();
      else set(errorText(e));
    },
    [onUnauthorized],
  );

  const loadLabs = useCallback(async () => {
    const mine = ++seq.current;
    try {
      const list = await retryOnceWhenBusy(api.labs, (s) => setBusyUntil(Date.now() + s * 1000));
      if (mine !== seq.current) return; // a newer load (or a launch/stop) overtook this one
      setLabs(list);
      setLabsError(null);
      setUpdated(new Date());
    } catch (e) {
      if (mine === seq.current) fail(e, setLabsError);
    } finally {
      setBusyUntil(null);
    }
  }, [fail]);

  const loadTemplates = useCallback(async () => {
    try {
      setTemplates(await retryOnceWhenBusy(api.launchable, (s) => setBusyUntil(Date.now() + s * 1000)));
      setTemplatesError(null);
    } catch (e) {
      fail(e, setTemplatesError);
    } finally {
      setBusyUntil(null);
    }
  }, [fail]);

  const refresh = useCallback(() => Promise.all([loadTemplates(), loadLabs()]), [loadTemplates, loadLabs]);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  const transitional = labs?.some((l) => TRANSITIONAL.includes(l.state)) ?? false;
  useEffect(() => {
    const t = window.setInterval(() => void loadLabs(), transitional ? FAST_POLL_MS : SLOW_POLL_MS);
    const onVisible = () => {
      if (document.visibilityState === 'visible') void loadLabs();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      window.clearInterval(t);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [transitional, loadLabs]);

  /** A lab the portal just answered with (launch, stop, end of progress): show it now, then reload. */
  const onLab = useCallback(
    (lab: Lab) => {
      seq.current++; // drop any list that was requested before this answer
      setLabs((prev) => [lab, ...(prev ?? []).filter((l) => l.id !== lab.id)].sort(newestFirst));
      setUsageTick((t) => t + 1);
      void loadLabs();
    },
    [loadLabs],
  );

  /** A lab's stream said something (queue moved, slice warning, stop): reload what it changes. */
  const newsTimer = useRef<number | null>(null);
  const onNews = useCallback(() => {
    // A (re)connecting stream replays its steps in a burst: one reload for the burst is enough.
    if (newsTimer.current !== null) return;
    newsTimer.current = window.setTimeout(() => {
      newsTimer.current = null;
      setUsageTick((t) => t + 1);
      void loadLabs();
    }, NEWS_DEBOUNCE_MS);
  }, [loadLabs]);
  useEffect(
    () => () => {
      if (newsTimer.current !== null) window.clearTimeout(newsTimer.current);
    },
    [],
  );

  const liveByTemplate = new Map<string, Lab>();
  const latestByTemplate = new Map<string, Lab>();
  for (const l of labs ?? []) {
    if (!l.template) continue;
    if (!latestByTemplate.has(l.template.id)) latestByTemplate.set(l.template.id, l);
    if (isLive(l) && !liveByTemplate.has(l.template.id)) liveByTemplate.set(l.template.id, l);
  }
  const templateIds = new Set((templates ?? []).map((t) => t.id));
  // Live labs whose template the user can no longer launch (unpublished, course archived): still show them.
  const orphans = templates
    ? (labs ?? []).filter((l) => isLive(l) && !(l.template && templateIds.has(l.template.id)))
    : [];
  const past = (labs ?? []).filter((l) => !isLive(l)).slice(0, RECENT);

  return (
    <section aria-labelledby="labs-heading">
      <div className="title-row">
        <h1 id="labs-heading">My labs</h1>
        <button type="button" className="btn btn-secondary btn-small push" onClick={() => void refresh()}>
          Refresh
        </button>
      </div>
      <p className="muted">
        Launch a Jupyter lab for your course on the campus rig pool. Your files are kept between sessions.
        {updated ? ` Updated ${updated.toLocaleTimeString()}.` : ''}
      </p>
      <BusyNotice until={busyUntil} />
      <ThisWeek tick={usageTick} onError={fail} />

      {templatesError ? <ErrorMessage message={templatesError} title="Could not load your labs:" /> : null}
      {labsError ? (
        <ErrorMessage
          message={labsError}
          title={labs ? 'Refresh failed (showing the last result):' : 'Could not load your lab sessions:'}
        />
      ) : null}
      {templates === null && !templatesError ? (
        <p className="muted" aria-busy="true">
          Loading your labs…
        </p>
      ) : null}

      {templates && templates.length === 0 && orphans.length === 0 ? (
        <div className="empty">
          <h2>No labs to launch yet</h2>
          <p>
            Labs appear here once you are enrolled in a course and its instructor publishes a lab template. If you
            expected one, ask your instructor.
          </p>
        </div>
      ) : null}

      {templates && (templates.length > 0 || orphans.length > 0) ? (
        <ul className="lab-list">
          {templates.map((t) => (
            <LabCard
              key={t.id}
              template={t}
              live={liveByTemplate.get(t.id) ?? null}
              latest={latestByTemplate.get(t.id) ?? null}
              onLab={onLab}
              onNews={onNews}
              onError={fail}
            />
          ))}
          {orphans.map((l) => (
            <LabCard key={l.id} template={null} live={l} latest={l} onLab={onLab} onNews={onNews} onError={fail} />
          ))}
        </ul>
      ) : null}

      {past.length > 0 ? <RecentLabs labs={past} /> : null}
    </section>
  );
}

function newestFirst(a: Lab, b: Lab): number {
  return new Date(b.createdAt).getTime() - new Date(a.createdAt).getTime();
}

function LabCard({
  template,
  live,
  latest,
  onLab,
  onNews,
  onError,
}: {
  template: LaunchableTemplate | null;
  live: Lab | null;
  latest: Lab | null;
  onLab: (lab: Lab) => void;
  onNews: () => void;
  onError: (e: unknown, set: (m: string) => void) => void;
}) {
  const [busy, setBusy] = useState<'launch' | 'stop' | null>(null);
  const [waitUntil, setWaitUntil] = useState<number | null>(null);
  const [error, setError] = useState<{ title: string; message: string } | null>(null);
  const [dismissed, setDismissed] = useState<string | null>(null);

  const title = template?.title ?? live?.template?.title ?? live?.name ?? 'Lab';
  const course = template?.course ?? live?.course ?? null;
  const headingId = `lab-${template?.id ?? live?.id}`;

  const launch = async () => {
    if (!template) return;
    if (latest) setDismissed(latest.id); // a new attempt replaces the last failure
    setBusy('launch');
    setError(null);
    try {
      const lab = await retryOnceWhenBusy(
        () => api.launchLab(template.id),
        (s) => setWaitUntil(Date.now() + s * 1000),
      );
      onLab(lab);
    } catch (e) {
      // A quota refusal says what ran out and when it refills: show it as it is, and the week's numbers.
      const refused = e instanceof ApiError && e.code?.startsWith('quota_');
      onError(e, (message) =>
        setError({ title: refused ? 'Not launched:' : 'Could not launch:', message: sentence(message) }),
      );
      if (refused) onNews();
    } finally {
      setBusy(null);
      setWaitUntil(null);
    }
  };

  const stop = async () => {
    if (!live) return;
    setBusy('stop');
    setError(null);
    try {
      onLab(
        await retryOnceWhenBusy(
          () => api.stopLab(live.id),
          (s) => setWaitUntil(Date.now() + s * 1000),
        ),
      );
    } catch (e) {
      onError(e, (message) => setError({ title: 'Could not stop:', message }));
    } finally {
      setBusy(null);
      setWaitUntil(null);
    }
  };

  const onFinal = useCallback(
    (lab: Lab, e: LabProgressEvent) => {
      onLab({
        ...lab,
        state: e.state ?? lab.state,
        url: e.url ?? lab.url,
        stateReason: e.failed ? e.message : lab.stateReason,
      });
    },
    [onLab],
  );

  const failed = !live && latest && (latest.state === 'failed' || latest.state === 'lost') && dismissed !== latest.id;
  const launching = live !== null && LAUNCHING.includes(live.state);

  return (
    <li className="card lab-card" aria-labelledby={headingId}>
      <div className="lab-card-head">
        <h2 id={headingId} className="lab-title">
          {title}
        </h2>
        {live ? <StateBadge state={live.state} launching /> : null}
      </div>
      {course ? (
        <div className="lab-course">
          <span className="course-code">{course.code}</span> <span className="course-term">{course.term}</span>
          <span className="muted"> · {course.title}</span>
        </div>
      ) : null}
      {template?.description ? <p className="lab-description">{template.description}</p> : null}
      {template?.resources ? (
        <ul className="resources" aria-label="Resources">
          <li>{cpus(template.resources.cpus)}</li>
          <li>{memory(template.resources.memoryMb)}</li>
          {template.resources.gpu ? (
            <li>
              <Badge tone="neutral">GPU</Badge>
            </li>
          ) : null}
        </ul>
      ) : !template ? (
        <p className="hint">You can no longer launch this lab, but this session is still running.</p>
      ) : null}

      {live?.queue ? <QueueNotice queue={live.queue} /> : null}
      {live && launching ? <LaunchProgress lab={live} onFinal={onFinal} onEvent={onNews} /> : null}
      {live?.state === 'ready' ? <FollowLab id={live.id} onNews={onNews} /> : null}

      {live?.state === 'ready' ? (
        <div className="alert alert-ok lab-ready" role="status">
          <strong>Your lab is ready.</strong>
          {live.rig ? ` Running on rig ${live.rig}` : ''}
          {live.readyAt ? ` since ${formatDate(live.readyAt)}` : ''}.
          {live.cpuOnly ? ' It continues on CPU: its GPU time slice is over.' : ''}
        </div>
      ) : null}

      {live?.slice ? <SliceCountdown slice={live.slice} /> : null}

      {live?.state === 'ready' && live.warning ? (
        <div className="alert alert-warn" role="alert">
          {localTimes(live.warning.message || 'Your lab is idle and will be stopped soon.')}
        </div>
      ) : null}

      {live?.state === 'stopping' ? (
        <div className="lab-progress" role="status">
          <progress aria-label={`Stopping ${title}`} />
          <p className="progress-message">Stopping your lab…</p>
        </div>
      ) : null}

      {failed && latest ? (
        <div className="alert alert-error" role="alert">
          <strong>{latest.state === 'lost' ? 'Your last lab was lost' : 'Your last launch failed'}</strong>
          {` (${formatDate(latest.stoppedAt ?? latest.createdAt)})`}: {latest.stateReason || 'no reason was given.'}{' '}
          <button type="button" className="link-button" onClick={() => setDismissed(latest.id)}>
            Dismiss
          </button>
        </div>
      ) : null}

      {error ? <ErrorMessage message={error.message} title={error.title} /> : null}
      <BusyNotice until={waitUntil} />

      <div className="lab-actions">
        {!live && template ? (
          <button type="button" className="btn btn-primary" disabled={busy !== null} onClick={() => void launch()}>
            {busy === 'launch' ? 'Launching…' : failed ? 'Try again' : 'Launch'}
          </button>
        ) : null}
        {live?.state === 'ready' && live.url ? (
          <a className="btn btn-primary btn-open" href={live.url} target="_blank" rel="noopener">
            Open Jupyter<span className="sr-only"> (opens in a new tab)</span>
            <span aria-hidden="true" className="icon-after">
              ↗
            </span>
          </a>
        ) : null}
        {live ? (
          <>
            <button
              type="button"
              className="btn btn-danger"
              disabled={busy !== null || live.state === 'stopping'}
              onClick={() => void stop()}
              aria-describedby={`${headingId}-kept`}
            >
              {busy === 'stop' || live.state === 'stopping' ? 'Stopping…' : live.queue ? 'Leave queue' : 'Stop'}
            </button>
            <span className="hint" id={`${headingId}-kept`}>
              {live.queue
                ? 'Leaving the queue costs nothing; launch again to rejoin at the back.'
                : 'Your files are kept when the lab stops.'}
            </span>
          </>
        ) : null}
      </div>
    </li>
  );
}

/** Live launch progress from the Server-Sent Events stream; polling keeps the card right if the stream fails. */
function LaunchProgress({
  lab,
  onFinal,
  onEvent,
}: {
  lab: Lab;
  onFinal: (lab: Lab, e: LabProgressEvent) => void;
  /** Any step: a queued GPU launch's steps are queue moves, which change what the card shows. */
  onEvent?: () => void;
}) {
  const [events, setEvents] = useState<LabProgressEvent[]>([]);
  const [streamDown, setStreamDown] = useState(false);
  const latest = useRef({ lab, onFinal, onEvent });
  useEffect(() => {
    latest.current = { lab, onFinal, onEvent };
  });

  useEffect(() => {
    setEvents([]);
    setStreamDown(false);
    const es = new EventSource(api.labProgressUrl(lab.id));
    es.onopen = () => setStreamDown(false);
    es.onmessage = (m: MessageEvent<string>) => {
      let e: LabProgressEvent;
      try {
        e = JSON.parse(m.data) as LabProgressEvent;
      } catch {
        return;
      }
      // The server replays the steps so far on every (re)connection: keep each step once.
      setEvents((prev) => (prev.some((p) => p.at && p.at === e.at && p.message === e.message) ? prev : [...prev, e]));
      if (e.ready !== undefined || e.failed !== undefined || e.state !== undefined) {
        es.close();
        latest.current.onFinal(latest.current.lab, e);
      } else if (latest.current.lab.queue) latest.current.onEvent?.();
    };
    es.onerror = () => {
      const { lab: now } = latest.current;
      if (!LAUNCHING.includes(now.state)) es.close();
      if (es.readyState === EventSource.CLOSED) setStreamDown(true);
    };
    return () => es.close();
  }, [lab.id]);

  const last = events[events.length - 1];
  const value = Math.round(last?.progress ?? STATE_PROGRESS[lab.state] ?? 0);
  const message = last?.message ? sentence(last.message) : `${STATE_LABEL[lab.state]}…`;
  const steps = events.filter((e, i) => i === 0 || e.message !== events[i - 1].message).slice(-8);
  const progressId = `progress-${lab.id}`;

  return (
    <div className="lab-progress">
      <div className="progress-row">
        <progress
          id={progressId}
          max={100}
          value={value}
          aria-label="Launch progress"
          aria-valuetext={`${value}%: ${message}`}
        />
        <span className="progress-value">{value}%</span>
      </div>
      <p className="progress-message" aria-live="polite">
        {message}
      </p>
      {steps.length > 1 ? (
        <ol className="steps" aria-label="Steps so far">
          {steps.map((s, i) => (
            <li key={`${s.at ?? 'final'}-${i}`} className={i === steps.length - 1 ? 'step-current' : 'step-done'}>
              <span aria-hidden="true">{i === steps.length - 1 ? '›' : '✓'}</span> {sentence(s.message)}
            </li>
          ))}
        </ol>
      ) : null}
      {streamDown ? (
        <p className="hint">Live progress isn't available right now; this page checks your lab every 5 seconds.</p>
      ) : null}
    </div>
  );
}

function RecentLabs({ labs }: { labs: Lab[] }) {
  return (
    <>
      <h2 id="recent-heading">Recent labs</h2>
      <div className="table-wrap">
        <table aria-labelledby="recent-heading">
          <thead>
            <tr>
              <th scope="col">Lab</th>
              <th scope="col">State</th>
              <th scope="col">Reason</th>
              <th scope="col">Rig</th>
              <th scope="col">Started</th>
              <th scope="col">Stopped</th>
            </tr>
          </thead>
          <tbody>
            {labs.map((l) => (
              <tr key={l.id}>
                <td>
                  <strong>{l.template?.title ?? l.name}</strong>
                  {l.course ? (
                    <div className="hint">
                      {l.course.code} · {l.course.term}
                    </div>
                  ) : null}
                </td>
                <td>
                  <StateBadge state={l.state} />
                </td>
                <td>
                  {l.stateReason ? (
                    <span className={l.state === 'stopped' ? 'muted' : 'error-text'}>{l.stateReason}</span>
                  ) : (
                    '—'
                  )}
                </td>
                <td>{l.rig ?? '—'}</td>
                <td className="nowrap">{formatDate(l.createdAt)}</td>
                <td className="nowrap">{formatDate(l.stoppedAt, '—')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

/** "42:07", or "1:02:07" past an hour: a countdown people read at a glance. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const two = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s % 60)}` : `${two(m)}:${two(s % 60)}`;
}

/** The student's minutes this week, per course: used and left as bars, and when they refill. */
function ThisWeek({ tick, onError }: { tick: number; onError: (e: unknown, set: (m: string) => void) => void }) {
  const [usage, setUsage] = useState<MyUsage | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setUsage(await api.myUsage());
      setError(null);
    } catch (e) {
      onError(e, setError);
    }
  }, [onError]);

  useEffect(() => {
    void load();
  }, [load, tick]);

  useEffect(() => {
    // Running labs are metered every minute or so: keep the bars roughly current without a reload.
    const t = window.setInterval(() => {
      if (document.visibilityState === 'visible') void load();
    }, USAGE_POLL_MS);
    return () => window.clearInterval(t);
  }, [load]);

  if (error && !usage) return <ErrorMessage message={error} title="Could not load your minutes this week:" />;
  if (!usage || usage.courses.length === 0) return null;
  return (
    <section aria-labelledby="week-heading" className="card week">
      <div className="title-row">
        <h2 id="week-heading">This week</h2>
        <span className="hint push">
          Refills on <strong>{formatDate(usage.refillsAt)}</strong>
        </span>
      </div>
      {error ? <p className="error-text">Refresh failed (showing the last numbers): {error}</p> : null}
      <ul className="week-courses">
        {usage.courses.map((c) => {
          const noGpu = c.gpuMinutes.limit === 0 && c.gpuMinutes.used === 0;
          return (
            <li key={c.course.id} aria-label={`${c.course.code} ${c.course.term}`}>
              <div className="lab-course">
                <span className="course-code">{c.course.code}</span>{' '}
                <span className="course-term">{c.course.term}</span>
                <span className="muted"> · {c.course.title}</span>
              </div>
              {noGpu ? (
                <p className="hint">No GPU time in this course.</p>
              ) : (
                <Meter label="GPU-minutes" line={c.gpuMinutes} unit="GPU-minutes" />
              )}
              <Meter label="CPU-hours" line={c.cpuHours} unit="CPU-hours" />
              {c.committedGpuMinutes > 0 ? (
                <p className="hint">
                  {amount(c.committedGpuMinutes)} more GPU-minutes are held for your running GPU lab's time slice.
                </p>
              ) : null}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

/** Where a GPU launch waits: its place in the course's fair queue and a rough start time. */
function QueueNotice({ queue }: { queue: NonNullable<Lab['queue']> }) {
  const eta = queue.estimatedStartAt ? Date.parse(queue.estimatedStartAt) : null;
  const minutes = eta === null ? null : Math.max(1, Math.round((eta - Date.now()) / 60_000));
  return (
    <div className="alert alert-info queue" role="status">
      <strong>Waiting for a GPU</strong>
      {queue.position !== null ? (
        <>
          : position <strong className="queue-position">{queue.position}</strong> in the queue
        </>
      ) : null}
      {minutes !== null ? (
        <>
          , starts in about <strong>{minutes} min</strong> (
          {new Date(eta!).toLocaleTimeString([], { timeStyle: 'short' })})
        </>
      ) : (
        ', no estimate yet'
      )}
      . Waiting since {formatDate(queue.since)}; this page updates as the queue moves.
    </div>
  );
}

/** A GPU lab's time slice, counting down each second; amber in its last ten minutes. */
function SliceCountdown({ slice }: { slice: NonNullable<Lab['slice']> }) {
  const end = Date.parse(slice.endsAt);
  const left = useSecondsLeft(Number.isNaN(end) ? null : end);
  const soon = left <= SLICE_WARN_S;
  return (
    <div className={`slice ${soon ? 'slice-soon' : ''}`} role="timer" aria-live="off">
      <span>
        GPU time slice{slice.gpuModel ? ` (${slice.gpuModel})` : ''}:{' '}
        <strong className="slice-clock" aria-label={`${Math.ceil(left / 60)} minutes left`}>
          {clock(left)}
        </strong>{' '}
        left
      </span>
      <span className="hint">
        {left === 0
          ? 'The slice is over; the lab is being stopped or moved to CPU.'
          : `Ends at ${new Date(end).toLocaleTimeString([], { timeStyle: 'short' })}. Save your work before then.`}
      </span>
    </div>
  );
}

/**
 * Keeps the lab's progress stream open while it runs: the portal sends slice and budget warnings
 * and stops there, so they show up without a reload. Polling covers the stream being down.
 */
function FollowLab({ id, onNews }: { id: string; onNews: () => void }) {
  const news = useRef(onNews);
  useEffect(() => {
    news.current = onNews;
  });
  useEffect(() => {
    const es = new EventSource(api.labFollowUrl(id));
    es.onmessage = (m: MessageEvent<string>) => {
      let e: LabProgressEvent;
      try {
        e = JSON.parse(m.data) as LabProgressEvent;
      } catch {
        return;
      }
      news.current();
      if (e.state !== undefined && !LIVE.includes(e.state)) es.close();
    };
    return () => es.close();
  }, [id]);
  return null;
}
