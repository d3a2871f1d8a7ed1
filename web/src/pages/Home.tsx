import type { Me } from '../api';
import { roleLabel } from '../ui';

export function HomePage({ me }: { me: Me }) {
  const name = me.displayName || me.username;
  return (
    <section aria-labelledby="courses-heading">
      <h1 id="courses-heading">My courses</h1>
      <p className="muted">
        Signed in as {name}
        {name !== me.username ? ` (${me.username})` : ''}.
      </p>
      {me.courses.length === 0 ? (
        <div className="empty">
          <h2>You're not in any course yet</h2>
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
