import { useState } from 'react';
import { api, errorText, type Me } from './api';
import { Link, navigate } from './router';
import { roleLabel } from './ui';

export function Header({ me, path, onSignedOut }: { me: Me; path: string; onSignedOut: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const isAdmin = me.campusRole === 'admin';

  const signOut = async () => {
    setBusy(true);
    setError(null);
    try {
      const { redirect } = await api.signOut();
      if (redirect) {
        // Single logout at the identity provider; it sends the browser back to the portal.
        window.location.assign(redirect);
        return;
      }
      navigate('/');
      onSignedOut();
    } catch (e) {
      setError(`Sign-out failed: ${errorText(e)}`);
      setBusy(false);
    }
  };

  return (
    <header className="site-header">
      <div className="container header-row">
        <Link href="/" className="brand">
          riglab
        </Link>
        <nav aria-label="Main">
          <ul className="nav">
            <li>
              <Link href="/" aria-current={path === '/' || path === '/labs' ? 'page' : undefined}>
                Labs
              </Link>
            </li>
            <li>
              <Link href="/courses" aria-current={path.startsWith('/courses') ? 'page' : undefined}>
                Courses
              </Link>
            </li>
            <li>
              <Link href="/tokens">Tokens</Link>
            </li>
            {isAdmin ? (
              <li>
                <Link href="/status">Status</Link>
              </li>
            ) : null}
            {isAdmin ? (
              <li>
                <Link href="/rigs">Rigs</Link>
              </li>
            ) : null}
            {isAdmin ? (
              <li>
                <Link href="/usage">Usage</Link>
              </li>
            ) : null}
            {isAdmin ? (
              <li>
                <Link href="/ledger">Ledger</Link>
              </li>
            ) : null}
            <li>
              <a href="/api/docs">API docs</a>
            </li>
            {isAdmin ? (
              <li>
                <a href="/metrics">Metrics</a>
              </li>
            ) : null}
          </ul>
        </nav>
        <div className="user">
          <span className="user-name">
            <span>{me.displayName || me.username}</span>
            <span className="user-role">{roleLabel(me.campusRole)}</span>
          </span>
          <button type="button" className="btn btn-secondary" onClick={signOut} disabled={busy}>
            {busy ? 'Signing out…' : 'Sign out'}
          </button>
        </div>
      </div>
      {error ? (
        <div className="container">
          <div className="alert alert-error" role="alert">
            {error}
          </div>
        </div>
      ) : null}
    </header>
  );
}
