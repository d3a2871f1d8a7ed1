import { useState, type ChangeEvent, type FormEvent } from 'react';
import { api, type CourseRole, type Me, type Member, type RosterAction, type RosterImport } from '../api';
import { Badge, ErrorMessage, formatDate, roleLabel } from '../ui';

const ROLES: CourseRole[] = ['instructor', 'ta', 'student'];
const FILTER_FROM = 8;
const MAX_CSV_BYTES = 1 << 20;

type Fail = (e: unknown, set: (m: string) => void) => void;

const SOURCE_LABEL: Record<string, string> = { manual: 'Added by hand', csv: 'CSV import', sso: 'University sign-in' };

/** The roster table; instructors and admins also add, re-role, remove and import members. */
export function Roster({
  courseId,
  members,
  error,
  canManage,
  me,
  onChanged,
  onError,
}: {
  courseId: string;
  members: Member[] | null;
  error: string | null;
  canManage: boolean;
  me: Me;
  onChanged: () => Promise<void>;
  onError: Fail;
}) {
  const [filter, setFilter] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [rowError, setRowError] = useState<string | null>(null);

  const q = filter.trim().toLowerCase();
  const shown = (members ?? []).filter(
    (m) =>
      !q ||
      m.username.toLowerCase().includes(q) ||
      (m.displayName ?? '').toLowerCase().includes(q) ||
      m.role.includes(q),
  );

  const changeRole = async (m: Member, role: CourseRole) => {
    if (role === m.role) return;
    setBusy(m.username);
    setRowError(null);
    try {
      await api.putMember(courseId, m.username, role);
      await onChanged();
    } catch (e) {
      onError(e, (msg) => setRowError(`${m.username}: ${msg}`));
    } finally {
      setBusy(null);
    }
  };

  const remove = async (m: Member) => {
    const self = m.username === me.username ? ' This is you: you will lose access to the roster.' : '';
    if (!window.confirm(`Remove ${m.username} (${roleLabel(m.role)}) from the course?${self}`)) return;
    setBusy(m.username);
    setRowError(null);
    try {
      await api.removeMember(courseId, m.username);
      await onChanged();
    } catch (e) {
      onError(e, (msg) => setRowError(`${m.username}: ${msg}`));
    } finally {
      setBusy(null);
    }
  };

  return (
    <section aria-labelledby="roster-heading">
      <div className="title-row">
        <h2 id="roster-heading">Roster</h2>
        {members && members.length >= FILTER_FROM ? (
          <div className="push">
            <label htmlFor="roster-filter" className="sr-only">
              Filter the roster
            </label>
            <input
              id="roster-filter"
              type="search"
              placeholder="Filter by username, name or role"
              value={filter}
              onChange={(e) => setFilter(e.target.value)}
            />
          </div>
        ) : null}
      </div>
      <p className="hint">
        Members from university sign-in follow the university's records at each sign-in; members added by hand or by CSV
        are never changed by sign-in.
      </p>
      {error ? <ErrorMessage message={error} title="Could not load the roster:" /> : null}
      {rowError ? <ErrorMessage message={rowError} title="Could not change the roster:" /> : null}
      {members === null && !error ? (
        <p className="muted" aria-busy="true">
          Loading the roster…
        </p>
      ) : null}
      {members && members.length === 0 ? <p className="empty">Nobody is on the roster yet.</p> : null}
      {members && members.length > 0 ? (
        <div className="table-wrap">
          <table aria-labelledby="roster-heading">
            <thead>
              <tr>
                <th scope="col">Username</th>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col">Source</th>
                <th scope="col">Added</th>
                {canManage ? (
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {shown.map((m) => (
                <tr key={m.username}>
                  <td>
                    <strong>{m.username}</strong>
                  </td>
                  <td>
                    {m.displayName ?? '—'}
                    {m.email ? <div className="hint">{m.email}</div> : null}
                  </td>
                  <td>
                    {canManage ? (
                      <select
                        aria-label={`Role of ${m.username}`}
                        value={m.role}
                        disabled={busy !== null}
                        onChange={(e) => void changeRole(m, e.target.value as CourseRole)}
                      >
                        {ROLES.map((r) => (
                          <option key={r} value={r}>
                            {roleLabel(r)}
                          </option>
                        ))}
                      </select>
                    ) : (
                      roleLabel(m.role)
                    )}
                  </td>
                  <td>{SOURCE_LABEL[m.source] ?? m.source}</td>
                  <td className="nowrap">{formatDate(m.addedAt)}</td>
                  {canManage ? (
                    <td>
                      <button
                        type="button"
                        className="btn btn-danger btn-small"
                        disabled={busy !== null}
                        onClick={() => void remove(m)}
                        aria-label={`Remove ${m.username}`}
                      >
                        {busy === m.username ? 'Working…' : 'Remove'}
                      </button>
                    </td>
                  ) : null}
                </tr>
              ))}
              {shown.length === 0 ? (
                <tr>
                  <td colSpan={canManage ? 6 : 5} className="muted">
                    Nobody matches “{filter}”.
                  </td>
                </tr>
              ) : null}
            </tbody>
          </table>
        </div>
      ) : null}
      {canManage ? (
        <>
          <AddMember courseId={courseId} onAdded={onChanged} onError={onError} />
          <CsvImport courseId={courseId} onApplied={onChanged} onError={onError} />
        </>
      ) : null}
    </section>
  );
}

function AddMember({ courseId, onAdded, onError }: { courseId: string; onAdded: () => Promise<void>; onError: Fail }) {
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<CourseRole>('student');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const name = username.trim();
    if (!name) {
      setError('Enter the username of the person to add.');
      return;
    }
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      await api.putMember(courseId, name, role);
      setUsername('');
      setDone(`${name} is now on the roster as ${roleLabel(role).toLowerCase()}.`);
      await onAdded();
    } catch (err) {
      onError(err, setError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card form" onSubmit={submit} aria-labelledby="add-member-heading">
      <h3 id="add-member-heading">Add a member</h3>
      <div className="inline">
        <div className="field grow">
          <label htmlFor="member-username">Username</label>
          <input
            id="member-username"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            autoCapitalize="none"
            spellCheck={false}
            placeholder="e.g. jdoe"
          />
        </div>
        <div className="field">
          <label htmlFor="member-role">Role</label>
          <select id="member-role" value={role} onChange={(e) => setRole(e.target.value as CourseRole)}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {roleLabel(r)}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" className="btn btn-primary align-end" disabled={busy}>
          {busy ? 'Adding…' : 'Add'}
        </button>
      </div>
      <p className="hint">An existing member gets the new role. People without a riglab account yet get one now.</p>
      {error ? <ErrorMessage message={error} title="Could not add:" /> : null}
      <p className="hint" role="status" aria-live="polite">
        {done ?? ''}
      </p>
    </form>
  );
}

const ACTION_TONE: Record<RosterAction, 'ok' | 'bad' | 'warn' | 'neutral'> = {
  add: 'ok',
  change: 'warn',
  keep: 'neutral',
  error: 'bad',
};

function CsvImport({
  courseId,
  onApplied,
  onError,
}: {
  courseId: string;
  onApplied: () => Promise<void>;
  onError: Fail;
}) {
  const [csv, setCsv] = useState('');
  const [fileName, setFileName] = useState<string | null>(null);
  const [preview, setPreview] = useState<RosterImport | null>(null);
  const [busy, setBusy] = useState<'preview' | 'apply' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const edit = (text: string) => {
    setCsv(text);
    setPreview(null); // a preview is only good for the text it was made from
    setDone(null);
  };

  const pick = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    if (!file) return;
    if (file.size > MAX_CSV_BYTES) {
      setError(`${file.name} is larger than 1 MB; a roster file is a few lines per student.`);
      return;
    }
    setError(null);
    setFileName(file.name);
    edit(await file.text());
  };

  const run = async (dryRun: boolean) => {
    if (!csv.trim()) {
      setError('Choose a CSV file or paste its lines first.');
      return;
    }
    setBusy(dryRun ? 'preview' : 'apply');
    setError(null);
    setDone(null);
    try {
      const result = await api.importRoster(courseId, csv, dryRun);
      if (dryRun || !result.applied) {
        setPreview(result);
      } else {
        const s = result.summary;
        setPreview(null);
        setCsv('');
        setFileName(null);
        setDone(`Roster updated: ${s.add} added, ${s.change} changed, ${s.keep} unchanged.`);
        await onApplied();
      }
    } catch (e) {
      onError(e, setError);
    } finally {
      setBusy(null);
    }
  };

  const errors = preview?.summary.error ?? 0;
  const changes = preview ? preview.summary.add + preview.summary.change : 0;

  return (
    <div className="card form csv-import" role="region" aria-labelledby="csv-heading">
      <h3 id="csv-heading">Import a roster (CSV)</h3>
      <p className="hint">
        One member per line: <code>username,role</code> with role <code>instructor</code>, <code>ta</code> or{' '}
        <code>student</code>. A header line is allowed. Members not in the file are kept. Preview first: nothing is
        written until you apply, and a file with any error is not applied at all.
      </p>
      <div className="field">
        <label htmlFor="csv-file">CSV file</label>
        <input id="csv-file" type="file" accept=".csv,text/csv,text/plain" onChange={(e) => void pick(e)} />
        {fileName ? <p className="hint">Loaded {fileName}; you can edit it below.</p> : null}
      </div>
      <div className="field">
        <label htmlFor="csv-text">Or paste the lines</label>
        <textarea
          id="csv-text"
          rows={6}
          className="mono"
          value={csv}
          onChange={(e) => edit(e.target.value)}
          placeholder={'username,role\njdoe,student\nasmith,ta'}
          spellCheck={false}
        />
      </div>
      {error ? <ErrorMessage message={error} title="Import failed:" /> : null}
      <div className="inline">
        <button type="button" className="btn btn-secondary" disabled={busy !== null} onClick={() => void run(true)}>
          {busy === 'preview' ? 'Checking…' : 'Preview'}
        </button>
        {preview ? (
          <button
            type="button"
            className="btn btn-primary"
            disabled={busy !== null || errors > 0 || changes === 0}
            onClick={() => void run(false)}
            aria-describedby="csv-summary"
          >
            {busy === 'apply' ? 'Applying…' : 'Apply'}
          </button>
        ) : null}
      </div>
      <p className="hint" role="status" aria-live="polite">
        {done ?? ''}
      </p>

      {preview ? (
        <>
          <p id="csv-summary" className={errors > 0 ? 'error-text' : 'hint'} role="status">
            {errors > 0
              ? `${errors} ${errors === 1 ? 'line has an error' : 'lines have errors'}: fix the file and preview again. Nothing was written.`
              : changes === 0
                ? 'Nothing to change: everyone in the file is already on the roster with that role.'
                : `Ready to apply: ${preview.summary.add} to add, ${preview.summary.change} to change, ${preview.summary.keep} unchanged.`}
          </p>
          <div className="table-wrap">
            <table aria-label="Import preview">
              <thead>
                <tr>
                  <th scope="col" className="num">
                    Line
                  </th>
                  <th scope="col">Username</th>
                  <th scope="col">Role</th>
                  <th scope="col">Action</th>
                  <th scope="col">Problem</th>
                </tr>
              </thead>
              <tbody>
                {preview.rows.map((r) => (
                  <tr key={r.line} className={`row-${r.action}`}>
                    <td className="num">{r.line}</td>
                    <td>{r.username || '—'}</td>
                    <td>{r.role || '—'}</td>
                    <td>
                      <Badge tone={ACTION_TONE[r.action]}>{r.action}</Badge>
                    </td>
                    <td>{r.error ? <span className="error-text">{r.error}</span> : null}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      ) : null}
    </div>
  );
}
