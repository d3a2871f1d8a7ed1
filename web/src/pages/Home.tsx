import type { Me } from '../api';
import { roleLabel } from '../ui';
import { LabsPage } from './Labs';

/** The signed-in home page: the student's labs first, their courses below. */
export function HomePage({ me, onUnauthorized }: { me: Me; onUnauthorized: () => void }) {
  return (
    <>
      <LabsPage onUnauthorized={onUnauthorized} />
      <CoursesPage me={me} level={2} />
    </>
  );
}

export function CoursesPage({ me, level = 1 }: { me: Me; level?: 1 | 2 }) {
  const name = me.displayName || me.username;
  const Heading = level === 1 ? 'h1' : 'h2';
  const Sub = level === 1 ? 'h2' : 'h3';
  return (
    <section aria-labelledby="courses-heading" className={level === 2 ? 'home-courses' : undefined}>
      <Heading id="courses-heading">My courses</Heading>
      <p className="muted">
        Signed in as {name}
        {name !== me.username ? ` (${me.username})` : ''}.
      </p>
      {me.courses.length === 0 ? (
        <div className="empty">
          <Sub>You're not in any course yet</Sub>
          {me.campusRole === 'student' ? (
            <p>
              Your courses appear here once your instructor adds you to the course roster. Ask them to enrol the
              username <code>{me.username}</code>, then reload this page.
            </p>
          ) : (
            <p>
              Courses appear here once you are on a course roster. Create a course or ask campus IT to add you as an
              instructor (username <code>{me.username}</code>), then reload this page.
            </p>
          )}
        </div>
      ) : (
        <ul className="course-list">
          {me.courses.map((c) => (
            <li key={c.id} className="course">
              <div className="course-head">
                <span className="course-code">{c.code}</span>
                <span className="course-term">{c.term}</span>
              </div>
              <div className="course-title">{c.title}</div>
              <div className="course-role">
                My role: <strong>{roleLabel(c.role)}</strong>
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
