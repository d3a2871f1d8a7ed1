import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { ApiError, api, errorText, type CourseRole, type CourseSummary, type Me } from '../api';
import { Link, navigate } from '../router';
import { Badge, ErrorMessage, roleLabel } from '../ui';

const GROUPS: { role: CourseRole | null; heading: string }[] = [
  { role: 'instructor', heading: 'Courses you teach' },
  { role: 'ta', heading: 'Courses you assist' },
  { role: 'student', heading: 'Courses you take' },
  { role: null, heading: 'Other courses' },
];

function byCodeThenTerm(a: CourseSummary, b: CourseSummary): number {
  return a.code.localeCompare(b.code) || b.term.localeCompare(a.term);
}

/** `GET /api/courses`, plus the archived ones when asked (merged: the archived list may hold only those). */
function useCourses(showArchived: boolean, onUnauthorized: () => void) {
  const [courses, setCourses] = useState<CourseSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const lists = await Promise.all([api.courses(false), ...(showArchived ? [api.courses(true)] : [])]);
      const byId = new Map<string, CourseSummary>();
      for (const c of lists.flat()) byId.set(c.id, c);
      setCourses([...byId.values()].sort(byCodeThenTerm));
      setError(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) onUnauthorized();
      else setError(errorText(e));
    }
  }, [showArchived, onUnauthorized]);

  useEffect(() => {
    void load();
  }, [load]);

  return { courses, error, reload: load };
}

export function CoursesPage({ me, onUnauthorized }: { me: Me; onUnauthorized: () => void }) {
  const canCreate = me.campusRole === 'admin' || me.campusRole === 'staff';
  return (
    <>
      <CourseList me={me} onUnauthorized={onUnauthorized} level={1} />
      {canCreate ? <NewCourseForm me={me} onUnauthorized={onUnauthorized} /> : null}
    </>
  );
}

/** The caller's courses, grouped by their role in each; archived ones only behind the toggle. */
export function CourseList({ me, onUnauthorized, level }: { me: Me; onUnauthorized: () => void; level: 1 | 2 }) {
  const [showArchived, setShowArchived] = useState(false);
  const { courses, error } = useCourses(showArchived, onUnauthorized);
  const Heading = level === 1 ? 'h1' : 'h2';
  const Sub = level === 1 ? 'h2' : 'h3';
  const name = me.displayName || me.username;
  const visible = (courses ?? []).filter((c) => showArchived || !c.archivedAt);
  const groups = GROUPS.map((g) => ({ ...g, courses: visible.filter((c) => c.role === g.role) })).filter(
    (g) => g.courses.length > 0,
  );
  const single = groups.length === 1;

  return (
    <section aria-labelledby="courses-heading" className={level === 2 ? 'home-courses' : undefined}>
      <div className="title-row">
        <Heading id="courses-heading">{me.campusRole === 'admin' ? 'Courses' : 'My courses'}</Heading>
        <label className="check push">
          <input type="checkbox" checked={showArchived} onChange={(e) => setShowArchived(e.target.checked)} />
          Show archived courses
        </label>
      </div>
      <p className="muted">
        Signed in as {name}
        {name !== me.username ? ` (${me.username})` : ''}.
        {me.campusRole === 'admin'
          ? ' As campus IT admin you see every course, with your own role where you have one.'
          : ''}
      </p>
      {error ? <ErrorMessage message={error} title="Could not load your courses:" /> : null}
      {courses === null && !error ? (
        <p className="muted" aria-busy="true">
          Loading your courses…
        </p>
      ) : null}
      {courses && visible.length === 0 ? (
        <div className="empty">
          <Sub>You're not in any course yet</Sub>
          {me.campusRole === 'student' ? (
            <p>
              Your courses appear here once you are on a course roster: your university account brings the courses you
              are registered for, or your instructor adds the username <code>{me.username}</code>. Sign in again after
              registering.
            </p>
          ) : (
            <p>
              Courses appear here once you are on a course roster. Create a course below or ask campus IT to add you as
              an instructor (username <code>{me.username}</code>).
            </p>
          )}
        </div>
      ) : null}
      {groups.map((g) => (
        <div key={g.role ?? 'other'} className="course-group">
          {single ? null : <Sub className="course-group-heading">{g.heading}</Sub>}
          <ul className="course-list" aria-label={g.heading}>
            {g.courses.map((c) => (
              <CourseCard key={c.id} course={c} />
            ))}
          </ul>
        </div>
      ))}
    </section>
  );
}

function CourseCard({ course: c }: { course: CourseSummary }) {
  return (
    <li className={`course${c.archivedAt ? ' course-archived' : ''}`}>
      <div className="course-head">
        <span className="course-code">{c.code}</span>
        <span className="course-term">{c.term}</span>
      </div>
      <div className="course-title">
        <Link href={`/courses/${encodeURIComponent(c.id)}`} className="stretched">
          {c.title}
        </Link>
      </div>
      <div className="course-meta">
        <span className="course-role">
          {c.role ? (
            <>
              My role: <strong>{roleLabel(c.role)}</strong>
            </>
          ) : (
            'Not on the roster'
          )}
        </span>
        <span className="course-role">
          {c.memberCount} {c.memberCount === 1 ? 'member' : 'members'}
        </span>
        {c.archivedAt ? <Badge tone="neutral">Archived</Badge> : null}
      </div>
    </li>
  );
}

function NewCourseForm({ me, onUnauthorized }: { me: Me; onUnauthorized: () => void }) {
  const [code, setCode] = useState('');
  const [term, setTerm] = useState('');
  const [title, setTitle] = useState('');
  const [access, setAccess] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!code.trim() || !term.trim() || !title.trim()) {
      setError('Fill in the code, the term and the title.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const c = await api.createCourse({
        code: code.trim(),
        term: term.trim(),
        title: title.trim(),
        settings: { instructorNotebookAccess: access },
      });
      navigate(`/courses/${encodeURIComponent(c.id)}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) onUnauthorized();
      else setError(errorText(err));
      setBusy(false);
    }
  };

  return (
    <form className="card form" onSubmit={submit} aria-labelledby="new-course-heading">
      <h2 id="new-course-heading">New course</h2>
      {me.campusRole === 'staff' ? <p className="hint">You become the course's instructor.</p> : null}
      <div className="field-row">
        <div className="field">
          <label htmlFor="course-code">Code</label>
          <input
            id="course-code"
            value={code}
            onChange={(e) => setCode(e.target.value)}
            placeholder="CS101"
            maxLength={32}
          />
        </div>
        <div className="field">
          <label htmlFor="course-term">Term</label>
          <input
            id="course-term"
            value={term}
            onChange={(e) => setTerm(e.target.value)}
            placeholder="2026F"
            maxLength={32}
          />
        </div>
      </div>
      <div className="field">
        <label htmlFor="course-title">Title</label>
        <input
          id="course-title"
          value={title}
          onChange={(e) => setTitle(e.target.value)}
          placeholder="Introduction to programming"
          maxLength={200}
        />
      </div>
      <label className="check field">
        <input type="checkbox" checked={access} onChange={(e) => setAccess(e.target.checked)} />
        Instructors may open students' running notebooks
      </label>
      {error ? <ErrorMessage message={error} title="Could not create the course:" /> : null}
      <button type="submit" className="btn btn-primary" disabled={busy}>
        {busy ? 'Creating…' : 'Create course'}
      </button>
    </form>
  );
}
