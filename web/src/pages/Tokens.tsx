import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError, api, errorText, type ApiToken, type CreatedToken, type Me } from '../api';
import { ErrorMessage, formatDate } from '../ui';

const SCOPES: { id: string; label: string }[] = [
  { id: 'read', label: 'Read your courses, labs and usage' },
  { id: 'labs', label: 'Launch and stop your labs' },
  { id: 'courses:admin', label: 'Manage courses and lab templates' },
  { id: 'rigs:admin', label: 'Register, drain and retire rigs' },
  { id: 'admin', label: 'Everything (implies all other scopes)' },
];

const EXPIRIES = [
  { value: '7d', label: '7 days' },
  { value: '30d', label: '30 days' },
  { value: '90d', label: '90 days' },
  { value: 'never', label: 'Never' },
  { value: 'date', label: 'On a date…' },
];

/** Tomorrow as YYYY-MM-DD, the earliest expiry date the form offers. */
function tomorrow(): string {
  const d = new Date(Date.now() + 86_400_000);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

export function TokensPage({ me, onUnauthorized }: { me: Me; onUnauthorized: () => void }) {
  const [tokens, setTokens] = useState<ApiToken[] | null>(null);
  const [listError, setListError] = useState<string | null>(null);
  const [created, setCreated] = useState<CreatedToken | null>(null);

  const handle = useCallback(
    (e: unknown, set: (m: string) => void) => {
      if (e instanceof ApiError && e.status === 401) onUnauthorized();
      else set(errorText(e));
    },
    [onUnauthorized],
  );

  const load = useCallback(async () => {
    try {
      setTokens(await api.tokens());
      setListError(null);
    } catch (e) {
      handle(e, setListError);
    }
  }, [handle]);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <section aria-labelledby="tokens-heading">
      <h1 id="tokens-heading">API tokens</h1>
      <p className="muted">
        Tokens let scripts and the <code>riglab</code> CLI act as {me.username}: send{' '}
        <code>Authorization: Bearer &lt;token&gt;</code>. Give each token only the scopes it needs.
      </p>

      {created ? <NewToken token={created} onDone={() => setCreated(null)} /> : null}

      <CreateTokenForm
        onCreated={(t) => {
          setCreated(t);
          void load();
        }}
        onError={handle}
      />

      <h2>Your tokens</h2>
      {listError ? <ErrorMessage message={listError} title="Could not load tokens:" /> : null}
      {tokens === null && !listError ? (
        <p className="muted" aria-busy="true">
          Loading tokens…
        </p>
      ) : null}
      {tokens && tokens.length === 0 ? (
        <p className="empty">You have no API tokens. Create one above when a script needs to call riglab.</p>
      ) : null}
      {tokens && tokens.length > 0 ? <TokenTable tokens={tokens} onRevoked={load} onError={handle} /> : null}
    </section>
  );
}

function CreateTokenForm({
  onCreated,
  onError,
}: {
  onCreated: (t: CreatedToken) => void;
  onError: (e: unknown, set: (m: string) => void) => void;
}) {
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>(['read', 'labs']);
  const [expires, setExpires] = useState('30d');
  const [date, setDate] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const toggle = (id: string) => setScopes((s) => (s.includes(id) ? s.filter((x) => x !== id) : [...s, id]));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim()) {
      setError('Give the token a name, so you can tell it apart later (e.g. "laptop CLI").');
      return;
    }
    if (scopes.length === 0) {
      setError('Choose at least one scope.');
      return;
    }
    if (expires === 'date' && !date) {
      setError('Choose the date the token expires.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      // A chosen date expires at the end of that day, local time.
      const until = expires === 'date' ? new Date(`${date}T23:59:59`).toISOString() : expires;
      const t = await api.createToken({ name: name.trim(), scopes, expires: until });
      setName('');
      onCreated(t);
    } catch (err) {
      onError(err, setError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card form" onSubmit={submit} aria-labelledby="create-heading">
      <h2 id="create-heading">Create a token</h2>
      <div className="field">
        <label htmlFor="token-name">Name</label>
        <input
          id="token-name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder="e.g. laptop CLI"
          maxLength={100}
        />
      </div>
      <fieldset className="field">
        <legend>Scopes</legend>
        {SCOPES.map((s) => (
          <label key={s.id} className="check">
            <input type="checkbox" checked={scopes.includes(s.id)} onChange={() => toggle(s.id)} />
            <code>{s.id}</code> <span className="muted">{s.label}</span>
          </label>
        ))}
      </fieldset>
      <div className="field">
        <label htmlFor="token-expires">Expires after</label>
        <select id="token-expires" value={expires} onChange={(e) => setExpires(e.target.value)}>
          {EXPIRIES.map((x) => (
            <option key={x.value} value={x.value}>
              {x.label}
            </option>
          ))}
        </select>
        {expires === 'date' ? (
          <input
            type="date"
            aria-label="Expiry date"
            className="expiry-date"
            min={tomorrow()}
            value={date}
            onChange={(e) => setDate(e.target.value)}
          />
        ) : null}
      </div>
      {error ? <ErrorMessage message={error} /> : null}
      <button type="submit" className="btn btn-primary" disabled={busy}>
        {busy ? 'Creating…' : 'Create token'}
      </button>
    </form>
  );
}

function NewToken({ token, onDone }: { token: CreatedToken; onDone: () => void }) {
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);
  const ref = useRef<HTMLInputElement>(null);

  useEffect(() => {
    ref.current?.focus();
    ref.current?.select();
  }, []);

  const copy = async () => {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        // Some browsers leave the promise pending while they ask for permission: give up after 2 s.
        await Promise.race([
          navigator.clipboard.writeText(token.token),
          new Promise((_, reject) => window.setTimeout(() => reject(new Error('clipboard timeout')), 2000)),
        ]);
      } else {
        ref.current?.select();
        if (!document.execCommand('copy')) throw new Error('copy refused');
      }
      setCopied('yes');
    } catch {
      ref.current?.select();
      setCopied('failed');
    }
  };

  return (
    <div className="card new-token" role="region" aria-labelledby="new-token-heading">
      <h2 id="new-token-heading">Token “{token.name}” created</h2>
      <div className="alert alert-warn">
        <strong>Copy it now.</strong> This is the only time riglab shows the full token; it keeps only a hash. If you
        lose it, revoke it and create a new one.
      </div>
      <label htmlFor="new-token-value">Your new token</label>
      <div className="inline">
        <input
          id="new-token-value"
          ref={ref}
          className="mono"
          readOnly
          value={token.token}
          onFocus={(e) => e.target.select()}
        />
        <button type="button" className="btn btn-primary" onClick={() => void copy()}>
          Copy
        </button>
      </div>
      <p className="hint" role="status" aria-live="polite">
        {copied === 'yes'
          ? 'Copied to the clipboard.'
          : copied === 'failed'
            ? 'Could not copy automatically: the token is selected, press Ctrl+C (⌘C).'
            : ''}
      </p>
      <button type="button" className="btn btn-secondary" onClick={onDone}>
        I have saved it
      </button>
    </div>
  );
}

function TokenTable({
  tokens,
  onRevoked,
  onError,
}: {
  tokens: ApiToken[];
  onRevoked: () => Promise<void>;
  onError: (e: unknown, set: (m: string) => void) => void;
}) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const revoke = async (t: ApiToken) => {
    if (!window.confirm(`Revoke the token “${t.name}” (${t.prefix}…)? Scripts using it will stop working.`)) return;
    setBusy(t.id);
    setError(null);
    try {
      await api.revokeToken(t.id);
      await onRevoked();
    } catch (e) {
      onError(e, setError);
    } finally {
      setBusy(null);
    }
  };

  const now = Date.now();
  // Admins list everyone's tokens: show whose each one is.
  const owners = tokens.some((t) => t.owner);
  return (
    <>
      {error ? <ErrorMessage message={error} title="Could not revoke:" /> : null}
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              {owners ? <th scope="col">Owner</th> : null}
              <th scope="col">Token</th>
              <th scope="col">Scopes</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tokens.map((t) => {
              const expired = t.expiresAt !== null && new Date(t.expiresAt).getTime() <= now;
              return (
                <tr key={t.id}>
                  <td>{t.name}</td>
                  {owners ? <td>{t.owner ?? '—'}</td> : null}
                  <td>
                    <code>{t.prefix}…</code>
                  </td>
                  <td>
                    {t.scopes.map((s) => (
                      <code key={s} className="scope">
                        {s}
                      </code>
                    ))}
                  </td>
                  <td className="nowrap">{formatDate(t.createdAt)}</td>
                  <td className="nowrap">
                    {expired ? <span className="badge badge-bad">expired</span> : formatDate(t.expiresAt)}
                  </td>
                  <td className="nowrap">{formatDate(t.lastUsedAt)}</td>
                  <td>
                    <button
                      type="button"
                      className="btn btn-danger btn-small"
                      disabled={busy === t.id}
                      onClick={() => void revoke(t)}
                      aria-label={`Revoke ${t.name}`}
                    >
                      {busy === t.id ? 'Revoking…' : 'Revoke'}
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </>
  );
}
