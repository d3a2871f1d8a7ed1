import { useCallback, useEffect, useState, type ChangeEvent, type FormEvent } from 'react';
import {
  ApiError,
  api,
  errorText,
  type GpuMode,
  type Me,
  type TemplateDetail,
  type TemplateInput,
  type TemplatePreview,
  type TemplateVersion,
} from '../api';
import { Link } from '../router';
import { Badge, ErrorMessage, formatDate } from '../ui';

const DRIVER_KINDS = ['nvidia', 'amd', 'devices'];

export function emptyInput(): TemplateInput {
  return {
    title: '',
    description: '',
    image: '',
    cpus: 1,
    memoryMb: 1024,
    pids: 512,
    gpu: { mode: 'none' },
    idleTimeoutMinutes: 30,
    maxSessionHours: 8,
    env: {},
    starterFolder: null,
  };
}

function inputOf(t: TemplateDetail): TemplateInput {
  const v = t.versions[0];
  if (!v) return { ...emptyInput(), title: t.title, description: t.description };
  const { words: _words, ...gpu } = v.gpu;
  return {
    title: t.title,
    description: t.description,
    image: v.image,
    cpus: v.cpus,
    memoryMb: v.memoryMb,
    pids: v.pids,
    gpu,
    idleTimeoutMinutes: v.idleTimeoutMinutes,
    maxSessionHours: v.maxSessionHours,
    env: v.env,
    starterFolder: v.starterFolder,
  };
}

const envText = (env: Record<string, string>) =>
  Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');

/** `NAME=value` lines → a map; the portal checks the names and says which one is wrong. */
function parseEnv(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) return `environment line ${i + 1}: write NAME=value`;
    out[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return out;
}

/** Checks the browser can make before asking the portal (which checks everything again). */
export function inputErrors(v: TemplateInput): string | null {
  if (!v.title.trim()) return 'Give the template a title.';
  if (!v.image.trim()) return 'Name the lab image (e.g. riglab/lab-python-basics:6fd45d5cc9d9).';
  if (v.gpu.mode === 'shared' && !v.gpu.minVramMb) return 'A shared GPU slot needs its minimum GPU memory (MiB).';
  return null;
}

/** The fields of a template, shared by the create and edit forms. */
export function TemplateFields({
  value,
  onChange,
  idPrefix,
  archiveFiles,
}: {
  value: TemplateInput;
  onChange: (v: TemplateInput) => void;
  idPrefix: string;
  /** Files of the uploaded archive the latest version uses, if it uses one. */
  archiveFiles?: number;
}) {
  const [env, setEnv] = useState(envText(value.env));
  const [envError, setEnvError] = useState<string | null>(null);
  const id = (name: string) => `${idPrefix}-${name}`;
  const set = <K extends keyof TemplateInput>(k: K, v: TemplateInput[K]) => onChange({ ...value, [k]: v });
  const num =
    (k: 'cpus' | 'memoryMb' | 'pids' | 'idleTimeoutMinutes' | 'maxSessionHours') =>
    (e: ChangeEvent<HTMLInputElement>) =>
      set(k, Number(e.target.value));
  const gpu = value.gpu;
  const setGpu = (patch: Partial<TemplateInput['gpu']>) => set('gpu', { ...gpu, ...patch });

  return (
    <>
      <div className="field">
        <label htmlFor={id('title')}>Title</label>
        <input
          id={id('title')}
          value={value.title}
          onChange={(e) => set('title', e.target.value)}
          maxLength={200}
          required
        />
      </div>
      <div className="field">
        <label htmlFor={id('description')}>Description</label>
        <textarea
          id={id('description')}
          rows={3}
          value={value.description}
          onChange={(e) => set('description', e.target.value)}
          maxLength={5000}
        />
      </div>
      <div className="field">
        <label htmlFor={id('image')}>Lab image</label>
        <input id={id('image')} value={value.image} onChange={(e) => set('image', e.target.value)} required />
        <p className="hint">A Docker image present on the rigs, as `riglab template import --build` prints it.</p>
      </div>
      <div className="field-row">
        <div className="field">
          <label htmlFor={id('cpus')}>CPUs</label>
          <input
            id={id('cpus')}
            type="number"
            min={0.1}
            max={64}
            step={0.1}
            value={value.cpus}
            onChange={num('cpus')}
          />
        </div>
        <div className="field">
          <label htmlFor={id('memory')}>Memory (MiB)</label>
          <input
            id={id('memory')}
            type="number"
            min={128}
            max={262144}
            step={128}
            value={value.memoryMb}
            onChange={num('memoryMb')}
          />
        </div>
        <div className="field">
          <label htmlFor={id('pids')}>Processes</label>
          <input id={id('pids')} type="number" min={32} max={65536} value={value.pids} onChange={num('pids')} />
        </div>
      </div>
      <fieldset className="gpu-choice">
        <legend>GPU</legend>
        {(
          [
            ['none', 'No GPU'],
            ['whole', 'One whole GPU'],
            ['shared', 'A shared GPU slot'],
          ] as Array<[GpuMode, string]>
        ).map(([mode, label]) => (
          <label key={mode} className="check">
            <input type="radio" name={id('gpu-mode')} checked={gpu.mode === mode} onChange={() => setGpu({ mode })} />
            {label}
          </label>
        ))}
        {gpu.mode !== 'none' ? (
          <>
            {gpu.mode === 'shared' ? (
              <div className="field">
                <label htmlFor={id('vram')}>At least this much GPU memory (MiB)</label>
                <input
                  id={id('vram')}
                  type="number"
                  min={256}
                  step={256}
                  value={gpu.minVramMb ?? ''}
                  onChange={(e) => setGpu({ minVramMb: e.target.value ? Number(e.target.value) : undefined })}
                />
              </div>
            ) : null}
            <div className="field">
              <label htmlFor={id('models')}>GPU models it runs on (comma-separated; empty: any)</label>
              <input
                id={id('models')}
                value={(gpu.models ?? []).join(', ')}
                placeholder="GTX 1070, RTX 3060"
                onChange={(e) =>
                  setGpu({
                    models: e.target.value
                      .split(',')
                      .map((m) => m.trim())
                      .filter(Boolean),
                  })
                }
              />
            </div>
            <div className="field">
              <span className="label">Driver kinds (none ticked: any)</span>
              {DRIVER_KINDS.map((k) => (
                <label key={k} className="check">
                  <input
                    type="checkbox"
                    checked={(gpu.driverKinds ?? []).includes(k)}
                    onChange={(e) =>
                      setGpu({
                        driverKinds: e.target.checked
                          ? [...(gpu.driverKinds ?? []), k]
                          : (gpu.driverKinds ?? []).filter((x) => x !== k),
                      })
                    }
                  />
                  {k}
                </label>
              ))}
            </div>
            <label className="check">
              <input
                type="checkbox"
                checked={!!gpu.allowCpuFallback}
                onChange={(e) => setGpu({ allowCpuFallback: e.target.checked })}
              />
              When the GPU time slice ends, carry on without the GPU (instead of stopping the lab)
            </label>
          </>
        ) : null}
      </fieldset>
      <div className="field-row">
        <div className="field">
          <label htmlFor={id('idle')}>Idle timeout (minutes)</label>
          <input
            id={id('idle')}
            type="number"
            min={1}
            max={10080}
            value={value.idleTimeoutMinutes}
            onChange={num('idleTimeoutMinutes')}
          />
        </div>
        <div className="field">
          <label htmlFor={id('max')}>Longest session (hours)</label>
          <input
            id={id('max')}
            type="number"
            min={0.25}
            max={336}
            step={0.25}
            value={value.maxSessionHours}
            onChange={num('maxSessionHours')}
          />
        </div>
      </div>
      <div className="field">
        <label htmlFor={id('env')}>Environment variables (NAME=value, one per line)</label>
        <textarea
          id={id('env')}
          rows={3}
          value={env}
          onChange={(e) => {
            setEnv(e.target.value);
            const parsed = parseEnv(e.target.value);
            if (typeof parsed === 'string') setEnvError(parsed);
            else {
              setEnvError(null);
              set('env', parsed);
            }
          }}
        />
        {envError ? <p className="hint error-text">{envError}</p> : null}
      </div>
      <div className="field">
        <label htmlFor={id('starter')}>Starter folder under course-templates/ (optional)</label>
        <input
          id={id('starter')}
          value={value.starterFolder ?? ''}
          placeholder="python-basics/starter"
          onChange={(e) => set('starterFolder', e.target.value.trim() || null)}
        />
        <p className="hint">
          {archiveFiles !== undefined
            ? `The latest version uses an uploaded archive (${archiveFiles} file(s)); naming a folder here replaces it.`
            : 'Or upload an archive of starter files once the template exists.'}
        </p>
      </div>
    </>
  );
}

/** One template: edit (a new version), publish a version, upload starter files, preview, history. */
export function TemplateEditPage({
  courseId,
  templateId,
  me,
  onUnauthorized,
}: {
  courseId: string;
  templateId: string;
  me: Me;
  onUnauthorized: () => void;
}) {
  const [t, setT] = useState<TemplateDetail | null>(null);
  const [role, setRole] = useState<string | null>(null);
  const [input, setInput] = useState<TemplateInput | null>(null);
  const [preview, setPreview] = useState<TemplatePreview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [uploadError, setUploadError] = useState<string | null>(null);
  const [formKey, setFormKey] = useState(0);

  const fail = useCallback(
    (e: unknown) => {
      if (e instanceof ApiError && e.status === 401) onUnauthorized();
      else setError(errorText(e));
    },
    [onUnauthorized],
  );

  const load = useCallback(async () => {
    try {
      const [detail, course, pv] = await Promise.all([
        api.template(courseId, templateId),
        api.course(courseId),
        api.previewTemplate(courseId, templateId).catch(() => null),
      ]);
      setT(detail);
      setRole(course.role);
      setInput(inputOf(detail));
      setPreview(pv);
      setFormKey((k) => k + 1);
      document.title = `${detail.title} · lab template · riglab`;
    } catch (e) {
      fail(e);
    }
  }, [courseId, templateId, fail]);

  useEffect(() => {
    void load();
  }, [load]);

  const canManage = me.campusRole === 'admin' || role === 'instructor';
  const act = async (name: string, work: () => Promise<string>) => {
    setBusy(name);
    setError(null);
    setNotice(null);
    try {
      const message = await work();
      await load();
      setNotice(message);
    } catch (e) {
      // An upload's refusal (naming the bad entry) is shown beside the file input, where the person looks.
      if (name === 'upload' && !(e instanceof ApiError && e.status === 401)) setUploadError(errorText(e));
      else fail(e);
    } finally {
      setBusy(null);
    }
  };

  const save = (e: FormEvent) => {
    e.preventDefault();
    if (!input) return;
    const local = inputErrors(input);
    if (local) return setError(local);
    // Only what the person changed: an untouched (empty) starter folder must not replace an uploaded archive.
    const loaded = inputOf(t!);
    const patch = Object.fromEntries(
      (Object.keys(input) as Array<keyof TemplateInput>)
        .filter((k) => JSON.stringify(input[k]) !== JSON.stringify(loaded[k]))
        .map((k) => [k, input[k]]),
    ) as Partial<TemplateInput>;
    void act('save', async () => {
      const saved = await api.editTemplate(courseId, templateId, patch);
      return saved.created
        ? `Saved as version ${saved.latestVersion} (changed: ${saved.changed.join(', ')}). Publish it to give it to students.`
        : saved.changed.length
          ? `Saved ${saved.changed.join(', ')}; no new version was needed.`
          : 'Nothing changed.';
    });
  };

  const upload = (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    e.target.value = '';
    if (!file) return;
    setUploadError(null);
    void act('upload', async () => {
      const saved = await api.uploadStarter(courseId, templateId, file);
      const a = saved.versions[0]?.starterArchive;
      return saved.created
        ? `Uploaded ${file.name}: version ${saved.latestVersion} has ${a?.fileCount ?? 0} starter file(s).`
        : `${file.name} is what the latest version already has; no new version.`;
    });
  };

  if (!t || !input) {
    return (
      <section>
        {error ? (
          <ErrorMessage message={error} title="Could not load the template:" />
        ) : (
          <p className="muted">Loading…</p>
        )}
      </section>
    );
  }
  const base = `/courses/${encodeURIComponent(courseId)}/templates`;
  const latest = t.versions[0];

  return (
    <section aria-labelledby="template-heading">
      <p>
        <Link href={base}>← All lab templates</Link>
      </p>
      <h1 id="template-heading">
        {t.title} <code className="muted">{t.slug}</code>
      </h1>
      <p>
        {t.published ? (
          <Badge tone="ok">Published: students launch version {t.currentVersion}</Badge>
        ) : (
          <Badge tone="warn">Not published: students do not see it</Badge>
        )}{' '}
        {latest && latest.version !== t.currentVersion ? (
          <Badge tone="neutral">Latest: version {latest.version}</Badge>
        ) : null}
      </p>
      {error ? <ErrorMessage message={error} /> : null}
      <p className="hint" role="status" aria-live="polite">
        {notice ?? ''}
      </p>
      {canManage ? (
        <div className="inline">
          <button
            type="button"
            className="btn btn-primary"
            disabled={busy !== null || (t.published && t.currentVersion === latest?.version)}
            onClick={() =>
              void act('publish', async () => {
                const d = await api.publishTemplate(courseId, templateId);
                return `Published version ${d.currentVersion}: new launches use it; running labs keep theirs.`;
              })
            }
          >
            {busy === 'publish' ? 'Publishing…' : `Publish version ${latest?.version ?? ''}`}
          </button>
          {t.published ? (
            <button
              type="button"
              className="btn btn-danger"
              disabled={busy !== null}
              onClick={() =>
                void act('unpublish', async () => {
                  await api.unpublishTemplate(courseId, templateId);
                  return 'Unpublished: students no longer see it; running labs carry on.';
                })
              }
            >
              {busy === 'unpublish' ? 'Unpublishing…' : 'Unpublish'}
            </button>
          ) : null}
        </div>
      ) : (
        <p className="hint">Only the course's instructors (and campus IT) can change templates.</p>
      )}

      {preview ? <Preview preview={preview} /> : null}

      {canManage ? (
        <section aria-labelledby="starter-heading">
          <h2 id="starter-heading">Starter files</h2>
          <div className="card">
            <label htmlFor="starter-upload">Upload an archive (.zip, .tar or .tar.gz) as the new starter files</label>
            <input
              id="starter-upload"
              type="file"
              accept=".zip,.tar,.tgz,.tar.gz,.gz"
              onChange={upload}
              disabled={busy !== null}
            />
            <p className="hint">
              Files are copied into each student's home at their first launch. Links pointing outside the archive,
              absolute paths and <code>..</code> are refused; the error names the entry.
            </p>
            {busy === 'upload' ? <p className="muted">Checking and storing the archive…</p> : null}
            {uploadError ? <ErrorMessage message={uploadError} title="Not uploaded, nothing changed:" /> : null}
          </div>
        </section>
      ) : null}

      <form className="card form" onSubmit={save} aria-labelledby="edit-heading">
        <h2 id="edit-heading">Edit</h2>
        <fieldset disabled={!canManage || busy !== null}>
          <TemplateFields
            key={formKey}
            value={input}
            onChange={setInput}
            idPrefix="edit"
            archiveFiles={latest?.starterArchive?.fileCount}
          />
        </fieldset>
        {canManage ? (
          <button type="submit" className="btn btn-primary" disabled={busy !== null}>
            {busy === 'save' ? 'Saving…' : 'Save as a new version'}
          </button>
        ) : null}
      </form>

      <History versions={t.versions} current={t.published ? t.currentVersion : null} />
    </section>
  );
}

function gpuShort(v: TemplateVersion): string {
  const g = v.gpu;
  if (g.mode === 'none') return 'none';
  const what = g.mode === 'whole' ? 'whole GPU' : `shared, ≥ ${g.minVramMb} MiB`;
  return `${what}${g.models?.length ? `: ${g.models.join(', ')}` : ''}${g.allowCpuFallback ? '; then CPU' : ''}`;
}

function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}

function Preview({ preview: p }: { preview: TemplatePreview }) {
  return (
    <section aria-labelledby="preview-heading">
      <h2 id="preview-heading">What a student gets (version {p.version})</h2>
      <div className="card">
        <dl className="facts">
          <dt>Resources</dt>
          <dd>
            {p.resources.cpus} CPU, {p.resources.memoryMb} MiB memory, up to {p.resources.pids} processes
          </dd>
          <dt>GPU</dt>
          <dd>{p.gpu}</dd>
          <dt>Limits</dt>
          <dd>
            stopped after {p.limits.idleTimeoutMinutes} minutes idle, at most {p.limits.maxSessionHours} hours per
            session
          </dd>
          <dt>Image</dt>
          <dd>
            <code>{p.image}</code>
          </dd>
          <dt>Environment</dt>
          <dd>{p.envNames.length ? p.envNames.map((n) => <code key={n}>{n} </code>) : 'nothing extra'}</dd>
          <dt>Starter files</dt>
          <dd>
            {p.starter.fileCount === 0
              ? 'none: an empty home'
              : `${p.starter.fileCount} file(s), ${formatSize(p.starter.totalBytes)}, from ${p.starter.source === 'archive' ? 'an uploaded archive' : 'a course-templates/ folder'}`}
          </dd>
        </dl>
        {p.starter.files.length ? (
          <ul className="file-list">
            {p.starter.files.slice(0, 200).map((f) => (
              <li key={f.path}>
                <code>{f.path}</code> <span className="muted">{formatSize(f.bytes)}</span>
              </li>
            ))}
          </ul>
        ) : null}
      </div>
    </section>
  );
}

function History({ versions, current }: { versions: TemplateVersion[]; current: number | null }) {
  return (
    <section aria-labelledby="history-heading">
      <h2 id="history-heading">Version history</h2>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Image</th>
              <th scope="col">Resources</th>
              <th scope="col">GPU</th>
              <th scope="col">Starter files</th>
              <th scope="col">By</th>
              <th scope="col">When</th>
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.id}>
                <td>
                  {v.version} {v.version === current ? <Badge tone="ok">published</Badge> : null}
                </td>
                <td>
                  <code>{v.image}</code>
                </td>
                <td className="nowrap">
                  {v.cpus} CPU, {v.memoryMb} MiB
                </td>
                <td>{gpuShort(v)}</td>
                <td>
                  {v.starterArchive ? (
                    `archive, ${v.starterArchive.fileCount} file(s)`
                  ) : v.starterFolder ? (
                    <code>{v.starterFolder}</code>
                  ) : (
                    'none'
                  )}
                </td>
                <td>{v.createdBy}</td>
                <td className="nowrap">{formatDate(v.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
