import { useEffect, useState } from 'react';
import { api, errorText, type AuthConfig } from '../api';
import { ErrorMessage } from '../ui';

/** Where to come back to after the identity provider: the page the person asked for (same origin only). */
function here(): string {
  const { pathname, search } = window.location;
  return `${pathname}${search}` || '/';
}

export function SignInPage() {
  const [config, setConfig] = useState<AuthConfig | null>(null);
  const [configError, setConfigError] = useState<string | null>(null);
  const [leaving, setLeaving] = useState(false);

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

  const sso = config?.sso.enabled ? config.sso : null;
  const loginHref = sso ? `${sso.loginUrl}?next=${encodeURIComponent(here())}` : '';
  const dev = config?.devIdp.enabled ? config.devIdp : null;

  return (
    <main className="centered" id="main">
      <div className="card narrow">
        <h1 className="brand-title">riglab</h1>
        <p className="muted">Jupyter labs for your courses, on the campus GPU pool.</p>

        {configError ? (
          <>
            <ErrorMessage message={configError} title="Could not load the sign-in options:" />
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

        {sso ? (
          <div className="stack">
            <a
              className="btn btn-primary btn-block btn-sso"
              href={loginHref}
              onClick={() => setLeaving(true)}
              aria-describedby="sso-hint"
            >
              {leaving ? 'Going to your university sign-in…' : 'Sign in with your university account'}
            </a>
            <p className="hint" id="sso-hint">
              You sign in with {sso.label ? <strong>{sso.label}</strong> : 'your university account'}; riglab never sees
              your password. Your courses come with your account.
            </p>
          </div>
        ) : null}

        {sso && dev ? (
          <aside className="alert alert-info dev-idp" aria-labelledby="dev-idp-heading">
            <h2 id="dev-idp-heading">Development sign-in</h2>
            <p>
              This portal uses the built-in development identity provider. Sign in there with one of the demo accounts,
              password <code>demo</code>:
            </p>
            <ul className="demo-accounts">
              {dev.accounts.map((a) => (
                <li key={a}>
                  <code>{a}</code>
                </li>
              ))}
            </ul>
            <p className="hint">For demos and development only: production portals use the university's sign-in.</p>
          </aside>
        ) : null}

        {config && !sso ? (
          <div className="alert alert-info" role="status">
            <strong>Sign-in isn't configured on this portal yet.</strong> Campus IT needs to set up university single
            sign-on (SAML). If you run this portal, see the README for the SSO settings, or start it with{' '}
            <code>npm run up</code> on a development machine to use the demo identity provider.
          </div>
        ) : null}
      </div>
    </main>
  );
}
