import { useCallback, useEffect, useState, type FormEvent } from 'react';
import {
  ApiError,
  api,
  errorText,
  type CourseDetail,
  type CourseLab,
  type CourseRole,
  type LabState,
  type Me,
  type Member,
} from '../api';
import { BarChart } from '../BarChart';
import { Link } from '../router';
import { Badge, ErrorMessage, formatDate, roleLabel } from '../ui';
import { CourseUsageSection, QuotaSection } from './CourseUsage';
import { StateBadge } from './Labs';
import { Roster } from './Roster';

const LABS_POLL_MS = 15_000;
const LIVE: LabState[] = ['queued', 'placing', 'starting', 'ready', 'stopping'];
const ROLES: CourseRole[] = ['instructor', 'ta', 'student'];

type Fail = (e: unknown, set: (m: string) => void) => void;

/** One course: its header and templates for everyone; roster, labs and settings for its staff. */
export function CoursePage({ id, me, onUnauthorized }: { id: string; me: Me; onUnauthorized: () => void }) {
  const [course, setCourse] = useState<CourseDetail | null>(null);
  const [error, setError] = useState<{ status: number; message: string } | null>(null);
  const [members, setMembers] = useState<Member[] | null>(null);
  const [membersError, setMembersError] = useState<string | null>(null);
  const [labs, setLabs] = useState<CourseLab[] | null>(null);
  const [labsError, setLabsError] = useState<string | null>(null);
  /** Bumped when the quota changes, so the usage charts redraw against the new limits. */
  const [quotaTick, setQuotaTick] = useState(0);

  const fail: Fail = useCallback(
    (e, set) => {
      if (e instanceof ApiError && e.status === 401) onUnauthorized();
      else set(errorText(e));
    },
    [onUnauthorized],
  );

  const loadCourse = useCallback(async () => {
    try {
      setCourse(await api.course(id));
      setError(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) onUnauthorized();
      else setError({ status: e instanceof ApiError ? e.status : 0, message: errorText(e) });
    }
  }, [id, onUnauthorized]);

  const isAdmin = me.campusRole === 'admin';
  const role = course?.role ?? null;
  const staff = course !== null && (isAdmin || role === 'instructor' || role === 'ta');
  const canManage = course !== null && (isAdmin || role === 'instructor');

  const loadMembers = useCallback(async () => {
    try {
      setMembers(await api.members(id));
      setMembersError(null);
    } catch (e) {
      fail(e, setMembersError);
    }
  }, [id, fail]);

  const loadLabs = useCallback(async () => {
    try {
      setLabs(await api.courseLabs(id));
      setLabsError(null);
    } catch (e) {
      fail(e, setLabsError);
    }
  }, [id, fail]);

  useEffect(() => {
    void loadCourse();
  }, [loadCourse]);

  useEffect(() => {
    if (!staff) return;
    void loadMembers();
    void loadLabs();
    const t = window.setInterval(() => {
      if (document.visibilityState === 'visible') void loadLabs();
    }, LABS_POLL_MS);
    return () => window.clearInterval(t);
  }, [staff, loadMembers, loadLabs]);

  useEffect(() => {
    if (course) document.title = `${course.code} ${course.term} · riglab`;
    else if (error) document.title = 'Course · riglab';
  }, [course, error]);

  if (error) {
    const gone = error.status === 404 || error.status === 403;
    return (
      <section>
        <p className="breadcrumb">
          <Link href="/courses">← All courses</Link>
        </p>
        <h1>{gone ? 'Course not available' : 'Could not load the course'}</h1>
        <ErrorMessage
          message={
            gone
              ? `${error.message} If you should be in this course, ask its instructor to add you to the roster.`
              : error.message
          }
        />
        {gone ? null : (
          <button type="button" className="btn" onClick={() => void loadCourse()}>
            Try again
          </button>
        )}
      </section>
    );
  }

  if (!course) {
    return (
      <p className="muted" aria-busy="true">
        Loading the course…
      </p>
    );
  }

  const onMembersChanged = async () => {
    await Promise.all([loadMembers(), loadCourse()]);
  };

  return (
    <>
      <p className="breadcrumb">
        <Link href="/courses">← All courses</Link>
      </p>
      <section aria-labelledby="course-heading" className="course-header">
        <div className="course-header-code">
          <span className="course-code">{course.code}</span> <span className="course-term">{course.term}</span>
        </div>
        <div className="title-row">
          <h1 id="course-heading">{course.title}</h1>
          {course.archivedAt ? <Badge tone="neutral">Archived</Badge> : null}
        </div>
        <p className="muted">
          {role ? (
            <>
              My role: <strong>{roleLabel(role)}</strong>
            </>
          ) : (
            <>
              My role: <strong>campus IT admin</strong> (not on the roster)
            </>
          )}
          {' · '}
          {course.memberCount} {course.memberCount === 1 ? 'member' : 'members'}
        </p>
        {course.archivedAt ? (
          <div className="alert alert-warn" role="status">
            <strong>This course was archived on {formatDate(course.archivedAt)}.</strong> Nobody can launch its labs;
            its roster and history are kept.
            {canManage ? ' Unarchive it under Settings to allow launches again.' : ''}
          </div>
        ) : null}
      </section>

      <Templates course={course} staff={staff} />

      {staff ? (
        <>
          <Overview members={members} labs={labs} />
          <CourseLabs
            course={course}
            labs={labs}
            error={labsError}
            onRefresh={loadLabs}
            isInstructor={role === 'instructor' && !isAdmin}
          />
          <CourseUsageSection courseId={course.id} tick={quotaTick} onError={fail} />
          <Roster
            courseId={course.id}
            members={members}
            error={membersError}
            canManage={canManage}
            me={me}
            onChanged={onMembersChanged}
            onError={fail}
          />
          <QuotaSection
            courseId={course.id}
            canTighten={canManage}
            isAdmin={isAdmin}
            onSaved={() => setQuotaTick((t) => t + 1)}
            onError={fail}
          />
          <CourseSettingsForm course={course} canManage={canManage} onSaved={setCourse} onError={fail} />
        </>
      ) : null}
    </>
  );
}

function Templates({ course, staff }: { course: CourseDetail; staff: boolean }) {
  const shown = staff ? course.templates : course.templates.filter((t) => t.published);
  return (
    <section aria-labelledby="templates-heading">
      <h2 id="templates-heading">Lab templates</h2>
      {shown.length === 0 ? (
        <p className="empty">
          {staff
            ? 'This course has no lab templates yet: create one under Manage lab templates.'
            : 'Your instructor has not published a lab for this course yet.'}
        </p>
      ) : (
        <ul className="template-list">
          {shown.map((t) => (
            <li key={t.id} className="template">
              <strong>{t.title}</strong> <code className="muted">{t.slug}</code>{' '}
              {t.published ? null : <Badge tone="warn">Draft</Badge>}
            </li>
          ))}
        </ul>
      )}
      {staff ? (
        <p>
          <Link href={`/courses/${encodeURIComponent(course.id)}/templates`}>Manage lab templates</Link>: create, edit,
          publish, upload starter files, preview.
        </p>
      ) : null}
      {!course.archivedAt && shown.some((t) => t.published) ? (
        <p className="hint">
          Launch a lab from <Link href="/">My labs</Link>.
        </p>
      ) : null}
    </section>
  );
}

const STATE_TONE: Record<LabState, string> = {
  queued: 'chart-bar-warn',
  placing: 'chart-bar-warn',
  starting: 'chart-bar-warn',
  ready: 'chart-bar-ok',
  stopping: 'chart-bar-warn',
  stopped: 'chart-bar-neutral',
  failed: 'chart-bar-bad',
  lost: 'chart-bar-bad',
};

/** Two small charts: who is on the roster, and what the course's labs are doing. */
function Overview({ members, labs }: { members: Member[] | null; labs: CourseLab[] | null }) {
  // Empty charts say nothing the tables below don't.
  const hasMembers = (members?.length ?? 0) > 0;
  const hasLabs = (labs?.length ?? 0) > 0;
  if (!hasMembers && !hasLabs) return null;
  const states: LabState[] = ['ready', 'starting', 'stopped', 'failed'];
  const countState = (s: LabState) =>
    (labs ?? []).filter((l) =>
      s === 'starting'
        ? ['queued', 'placing', 'starting', 'stopping'].includes(l.state)
        : s === 'failed'
          ? l.state === 'failed' || l.state === 'lost'
          : l.state === s,
    ).length;
  return (
    <section aria-labelledby="overview-heading">
      <h2 id="overview-heading">Overview</h2>
      <div className="chart-row">
        {members && hasMembers ? (
          <BarChart
            title="Roster by role"
            bars={ROLES.map((r) => ({
              label: roleLabel(r),
              value: members.filter((m) => m.role === r).length,
              tone: 'chart-bar-primary',
            }))}
          />
        ) : null}
        {labs && hasLabs ? (
          <BarChart
            title="Labs by state"
            bars={states.map((s) => ({
              label:
                s === 'starting'
                  ? 'Starting/stopping'
                  : s === 'failed'
                    ? 'Failed/lost'
                    : s[0].toUpperCase() + s.slice(1),
              value: countState(s),
              tone: STATE_TONE[s],
            }))}
          />
        ) : null}
      </div>
    </section>
  );
}

function templateName(t: CourseLab['template']): string {
  return t ? t.title || t.slug : '—';
}

function CourseLabs({
  course,
  labs,
  error,
  onRefresh,
  isInstructor,
}: {
  course: CourseDetail;
  labs: CourseLab[] | null;
  error: string | null;
  onRefresh: () => Promise<void>;
  isInstructor: boolean;
}) {
  const [showAll, setShowAll] = useState(false);
  const sorted = [...(labs ?? [])].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
  const shown = showAll ? sorted : sorted.filter((l) => LIVE.includes(l.state));
  const hidden = sorted.length - shown.length;

  return (
    <section aria-labelledby="course-labs-heading">
      <div className="title-row">
        <h2 id="course-labs-heading">Students' labs</h2>
        <label className="check push">
          <input type="checkbox" checked={showAll} onChange={(e) => setShowAll(e.target.checked)} />
          Include stopped and failed labs
        </label>
        <button type="button" className="btn btn-secondary btn-small" onClick={() => void onRefresh()}>
          Refresh
        </button>
      </div>
      {isInstructor && !course.settings.instructorNotebookAccess ? (
        <p className="hint">
          Opening students' running notebooks is off for this course; it can be turned on under Settings.
        </p>
      ) : null}
      {error ? <ErrorMessage message={error} title="Could not load the course's labs:" /> : null}
      {labs === null && !error ? (
        <p className="muted" aria-busy="true">
          Loading labs…
        </p>
      ) : null}
      {labs && shown.length === 0 ? (
        <p className="empty">
          No running labs{hidden > 0 ? ` (${hidden} stopped or failed, shown with the box above)` : ''}.
        </p>
      ) : null}
      {shown.length > 0 ? (
        <div className="table-wrap">
          <table aria-labelledby="course-labs-heading">
            <thead>
              <tr>
                <th scope="col">Username</th>
                <th scope="col">Template</th>
                <th scope="col">State</th>
                <th scope="col">Since</th>
                <th scope="col">
                  <span className="sr-only">Open</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {shown.map((l) => (
                <tr key={l.id}>
                  <td>
                    <strong>{l.username}</strong>
                  </td>
                  <td>{templateName(l.template)}</td>
                  <td>
                    <StateBadge state={l.state} />
                    {l.reason && l.state !== 'ready' ? (
                      <div className={l.state === 'stopped' ? 'hint' : 'error-text'}>{l.reason}</div>
                    ) : null}
                  </td>
                  <td className="nowrap">
                    {formatDate(l.state === 'ready' ? (l.readyAt ?? l.createdAt) : l.createdAt)}
                  </td>
                  <td>
                    {l.url && l.state === 'ready' ? (
                      <a className="btn btn-secondary btn-small" href={l.url} target="_blank" rel="noopener">
                        Open<span className="sr-only"> {l.username}'s notebook (opens in a new tab; recorded)</span>
                        <span aria-hidden="true" className="icon-after">
                          ↗
                        </span>
                      </a>
                    ) : null}
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

function CourseSettingsForm({
  course,
  canManage,
  onSaved,
  onError,
}: {
  course: CourseDetail;
  canManage: boolean;
  onSaved: (c: CourseDetail) => void;
  onError: Fail;
}) {
  const [title, setTitle] = useState(course.title);
  const [access, setAccess] = useState(course.settings.instructorNotebookAccess);
  const [busy, setBusy] = useState<'save' | 'archive' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);

  useEffect(() => {
    setTitle(course.title);
    setAccess(course.settings.instructorNotebookAccess);
  }, [course.title, course.settings.instructorNotebookAccess]);

  const dirty = title.trim() !== course.title || access !== course.settings.instructorNotebookAccess;

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!title.trim()) {
      setError('The title cannot be empty.');
      return;
    }
    setBusy('save');
    setError(null);
    setSaved(null);
    try {
      const updated = await api.updateCourse(course.id, {
        title: title.trim(),
        settings: { instructorNotebookAccess: access },
      });
      onSaved({ ...course, ...updated, templates: course.templates, role: course.role });
      setSaved('Settings saved.');
    } catch (err) {
      onError(err, setError);
    } finally {
      setBusy(null);
    }
  };

  const toggleArchive = async () => {
    const archiving = !course.archivedAt;
    const question = archiving
      ? `Archive ${course.code} ${course.term}? Nobody will be able to launch its labs until it is unarchived. Running labs are not stopped.`
      : `Unarchive ${course.code} ${course.term}? Its students will be able to launch labs again.`;
    if (!window.confirm(question)) return;
    setBusy('archive');
    setError(null);
    setSaved(null);
    try {
      const updated = archiving ? await api.archiveCourse(course.id) : await api.unarchiveCourse(course.id);
      onSaved({ ...course, ...updated, templates: course.templates, role: course.role });
      setSaved(archiving ? 'Course archived.' : 'Course unarchived.');
    } catch (err) {
      onError(err, setError);
    } finally {
      setBusy(null);
    }
  };

  return (
    <section aria-labelledby="settings-heading">
      <h2 id="settings-heading">Settings</h2>
      <form className="card form" onSubmit={save}>
        {canManage ? null : (
          <p className="hint">Only the course's instructors (and campus IT) can change its settings.</p>
        )}
        <fieldset disabled={!canManage || busy !== null}>
          <div className="field">
            <label htmlFor="settings-title">Title</label>
            <input id="settings-title" value={title} onChange={(e) => setTitle(e.target.value)} maxLength={200} />
          </div>
          <label className="check field">
            <input type="checkbox" checked={access} onChange={(e) => setAccess(e.target.checked)} />
            Instructors may open students' running notebooks
          </label>
          <p className="hint">
            Each time an instructor opens a student's notebook, riglab records it in the audit log.
          </p>
        </fieldset>
        {error ? <ErrorMessage message={error} /> : null}
        <p className="hint" role="status" aria-live="polite">
          {saved ?? ''}
        </p>
        {canManage ? (
          <div className="inline">
            <button type="submit" className="btn btn-primary" disabled={busy !== null || !dirty}>
              {busy === 'save' ? 'Saving…' : 'Save settings'}
            </button>
            <button
              type="button"
              className={course.archivedAt ? 'btn btn-secondary' : 'btn btn-danger'}
              disabled={busy !== null}
              onClick={() => void toggleArchive()}
            >
              {busy === 'archive'
                ? course.archivedAt
                  ? 'Unarchiving…'
                  : 'Archiving…'
                : course.archivedAt
                  ? 'Unarchive course'
                  : 'Archive course'}
            </button>
          </div>
        ) : null}
      </form>
    </section>
  );
}
