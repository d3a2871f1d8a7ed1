import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { ApiError, api, errorText, type CourseDetail, type Me, type TemplateSummary } from '../api';
import { Link, navigate } from '../router';
import { Badge, ErrorMessage, formatDate } from '../ui';
import { TemplateFields, emptyInput, inputErrors } from './TemplateEdit';

/** A course's lab templates for its staff: what students launch, drafts, and a form for a new one. */
export function TemplatesPage({
  courseId,
  me,
  onUnauthorized,
}: {
  courseId: string;
  me: Me;
  onUnauthorized: () => void;
}) {
  const [course, setCourse] = useState<CourseDetail | null>(null);
  const [templates, setTemplates] = useState<TemplateSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);

  const load = useCallback(async () => {
    try {
      const [c, t] = await Promise.all([api.course(courseId), api.templates(courseId)]);
      setCourse(c);
      setTemplates(t);
      setError(null);
      document.title = `Lab templates · ${c.code} ${c.term} · riglab`;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) onUnauthorized();
      else setError(errorText(e));
    }
  }, [courseId, onUnauthorized]);

  useEffect(() => {
    void load();
  }, [load]);

  const canManage = me.campusRole === 'admin' || course?.role === 'instructor';
  const courseHref = `/courses/${encodeURIComponent(courseId)}`;

  return (
    <section aria-labelledby="templates-page-heading">
      <p>
        <Link href={courseHref}>← {course ? `${course.code} ${course.term}` : 'Course'}</Link>
      </p>
      <h1 id="templates-page-heading">Lab templates{course ? ` of ${course.code} ${course.term}` : ''}</h1>
      <p className="hint">
        A template is what students launch: image, resources, GPU policy, starter files. Every change that affects a lab
        makes a new version; students get the published version, and running labs keep theirs.
      </p>
      {error ? <ErrorMessage message={error} title="Could not load the templates:" /> : null}
      {templates === null && !error ? <p className="muted">Loading…</p> : null}
      {templates && templates.length === 0 ? <p className="empty">This course has no lab templates yet.</p> : null}
      {templates && templates.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Template</th>
                <th scope="col">Status</th>
                <th scope="col">Versions</th>
                <th scope="col">Resources</th>
                <th scope="col">Changed</th>
              </tr>
            </thead>
            <tbody>
              {templates.map((t) => (
                <tr key={t.id}>
                  <td>
                    <Link href={`${courseHref}/templates/${t.id}`}>
                      <strong>{t.title}</strong>
                    </Link>{' '}
                    <code className="muted">{t.slug}</code>
                  </td>
                  <td>
                    {t.published ? (
                      <Badge tone="ok">Published v{t.currentVersion}</Badge>
                    ) : (
                      <Badge tone="warn">Not published</Badge>
                    )}
                    {t.published && t.latestVersion !== t.currentVersion ? (
                      <>
                        {' '}
                        <Badge tone="neutral">Draft v{t.latestVersion}</Badge>
                      </>
                    ) : null}
                  </td>
                  <td>{t.latestVersion ?? '–'}</td>
                  <td>
                    {t.current
                      ? `${t.current.cpus} CPU, ${t.current.memoryMb} MiB, ${t.current.gpu.mode === 'none' ? 'no GPU' : t.current.gpu.mode === 'whole' ? 'whole GPU' : `shared GPU ≥ ${t.current.gpu.minVramMb} MiB`}`
                      : '–'}
                  </td>
                  <td className="nowrap">{formatDate(t.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {canManage && course ? (
        creating ? (
          <NewTemplate courseId={courseId} onCancel={() => setCreating(false)} onUnauthorized={onUnauthorized} />
        ) : (
          <p>
            <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
              New template
            </button>
          </p>
        )
      ) : null}
    </section>
  );
}

function NewTemplate({
  courseId,
  onCancel,
  onUnauthorized,
}: {
  courseId: string;
  onCancel: () => void;
  onUnauthorized: () => void;
}) {
  const [slug, setSlug] = useState('');
  const [input, setInput] = useState(emptyInput());
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const local = inputErrors(input);
    if (local) return setError(local);
    setBusy(true);
    setError(null);
    try {
      const created = await api.createTemplate(courseId, { slug: slug.trim(), ...input });
      navigate(`/courses/${encodeURIComponent(courseId)}/templates/${created.id}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) onUnauthorized();
      else setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card form" onSubmit={submit} aria-labelledby="new-template-heading">
      <h2 id="new-template-heading">New template</h2>
      <fieldset disabled={busy}>
        <div className="field">
          <label htmlFor="tpl-slug">Short name (slug)</label>
          <input
            id="tpl-slug"
            value={slug}
            onChange={(e) => setSlug(e.target.value)}
            placeholder="python-basics"
            pattern="[a-z0-9][a-z0-9-]{0,62}"
            required
          />
          <p className="hint">Lower-case letters, digits and -; part of the lab's address, fixed once created.</p>
        </div>
        <TemplateFields value={input} onChange={setInput} idPrefix="new" />
      </fieldset>
      {error ? <ErrorMessage message={error} /> : null}
      <div className="inline">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create template'}
        </button>
        <button type="button" className="btn btn-secondary" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}
