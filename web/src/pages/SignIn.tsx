import { useEffect, useState, type FormEvent } from 'react';
import { api, errorText, type AuthConfig } from '../api';
import { ErrorMessage } from '../ui';

const DEMO_ACCOUNTS = ['student', 'instructor', 'admin'];

export function SignInPage({ onSignedIn }: { onSignedIn: () => Promise<void> | void }) {
  const [config, setConfig] = useState<AuthConfig | null>(null);
  const [configError, setConfigError] = useState<string | null>(null);
  const [username, setUsername] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const loadConfig = async () => {
    setConfigError(null);
    try {
      setConfig(await api.authConfig());
    } catch (e) {
      setConfigError(errorText(e));
    }
  };

  useEffect(() => {
    void loadConfig();
  }, []);

  const signIn = async (name: string) => {
    const trimmed = name.trim();
    if (!trimmed) {
      setError('Enter a username.');
      return;
    }
    setBusy(trimmed);
    setError(null);
    try {
      await api.devSignIn(trimmed);
      await onSignedIn();
    } catch (e) {
      setError(errorText(e));
      setBusy(null);
    }
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void signIn(username);
  };

  return (
    <main className="centered" id="main">
      <div className="card narrow">
        <h1 className="brand-title">riglab</h1>
        <p className="muted">Jupyter labs for your courses, on the campus GPU pool.</p>

        {configError ? (
          <>
            <ErrorMessage message={configError} />
            <button type="button" className="btn" onClick={() => void loadConfig()}>
              Try again
            </button>
          </>
        ) : null}

        {!config && !configError ? (
          <p className="muted" aria-busy="true">
            Loading sign-in options…
          </p>
        ) : null}

        {config?.sso ? (
          <div className="stack">
            <a className="btn btn-primary btn-block" href="/auth/saml/login">
              Sign in with university account
            </a>
          </div>
        ) : null}

        {config?.sso && config.devSignIn ? (
          <div className="divider">
            <span>or</span>
          </div>
        ) : null}

        {config?.devSignIn ? (
          <section aria-labelledby="dev-heading" className="stack">
            <h2 id="dev-heading">Development sign-in</h2>
            <p className="hint">No password: for demos and development only. Production portals turn this off.</p>
            <form onSubmit={submit} className="stack">
              <label htmlFor="username">Username</label>
              <div className="inline">
                <input
                  id="username"
                  name="username"
                  autoComplete="username"
                  autoCapitalize="none"
                  spellCheck={false}
                  value={username}
                  onChange={(e) => setUsername(e.target.value)}
                  disabled={busy !== null}
                />
                <button type="submit" className="btn btn-primary" disabled={busy !== null}>
                  {busy && busy === username.trim() ? 'Signing in…' : 'Sign in'}
                </button>
              </div>
            </form>
            <div>
              <p className="hint" id="demo-label">
                Or sign in as a demo account:
              </p>
              <div className="inline" role="group" aria-labelledby="demo-label">
                {DEMO_ACCOUNTS.map((name) => (
                  <button
                    key={name}
                    type="button"
                    className="btn btn-secondary"
                    disabled={busy !== null}
                    onClick={() => void signIn(name)}
                  >
                    {busy === name ? `Signing in…` : name}
                  </button>
                ))}
              </div>
            </div>
          </section>
        ) : null}

        {error ? <ErrorMessage message={error} title="Could not sign in:" /> : null}

        {config && !config.sso && !config.devSignIn ? (
          <div className="alert alert-info" role="status">
            <strong>Sign-in isn't configured on this portal yet.</strong> Campus IT needs to set up university single
            sign-on (SAML). If you run this portal, see the README for the SSO settings, or enable development sign-in
            on a development machine.
          </div>
        ) : null}
      </div>
    </main>
  );
}
