import { useCallback, useEffect, useState } from 'react';
import { ApiError, api, errorText, type Me } from './api';
import { Header } from './Header';
import { ErrorMessage } from './ui';
import { usePathname, Link } from './router';
import { SignInPage } from './pages/SignIn';
import { HomePage } from './pages/Home';
import { CoursesPage } from './pages/Courses';
import { CoursePage } from './pages/Course';
import { LabsPage } from './pages/Labs';
import { TokensPage } from './pages/Tokens';
import { StatusPage } from './pages/Status';
import { TemplatesPage } from './pages/Templates';
import { TemplateEditPage } from './pages/TemplateEdit';
import { UsagePage } from './pages/Usage';
import { RigsPage } from './pages/Rigs';
import { RigPage } from './pages/RigPage';
import { RigAddPage } from './pages/RigAdd';
import { LedgerPage } from './pages/Ledger';

type Session =
  { state: 'loading' } | { state: 'signed-out' } | { state: 'signed-in'; me: Me } | { state: 'error'; message: string };

const COURSE_PATH = /^\/courses\/([^/]+)\/?$/;
const TEMPLATES_PATH = /^\/courses\/([^/]+)\/templates\/?$/;
const TEMPLATE_PATH = /^\/courses\/([^/]+)\/templates\/([^/]+)\/?$/;
const RIG_PATH = /^\/rigs\/([^/]+)\/?$/;

const TITLES: Record<string, string> = {
  '/': 'My labs',
  '/labs': 'My labs',
  '/courses': 'My courses',
  '/tokens': 'API tokens',
  '/status': 'Status',
  '/usage': 'Usage',
  '/rigs': 'Rigs',
  '/rigs/new': 'Add a rig',
  '/ledger': 'Usage ledger',
};

export function App() {
  const path = usePathname();
  const [session, setSession] = useState<Session>({ state: 'loading' });

  const loadMe = useCallback(async () => {
    try {
      const me = await api.me();
      setSession({ state: 'signed-in', me });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) setSession({ state: 'signed-out' });
      else setSession({ state: 'error', message: errorText(e) });
    }
  }, []);

  useEffect(() => {
    void loadMe();
  }, [loadMe]);

  useEffect(() => {
    // The course page sets its own title once it knows the course.
    if (
      session.state === 'signed-in' &&
      (COURSE_PATH.test(path) ||
        TEMPLATES_PATH.test(path) ||
        TEMPLATE_PATH.test(path) ||
        (RIG_PATH.test(path) && path !== '/rigs/new'))
    )
      return;
    const page = session.state === 'signed-in' ? (TITLES[path] ?? 'Not found') : 'Sign in';
    document.title = `${page} · riglab`;
  }, [path, session.state]);

  if (session.state === 'loading') {
    return (
      <main className="centered" aria-busy="true">
        <p className="muted">Loading riglab…</p>
      </main>
    );
  }

  if (session.state === 'error') {
    return (
      <main className="centered">
        <div className="card narrow">
          <h1 className="brand-title">riglab</h1>
          <ErrorMessage message={session.message} />
          <button
            type="button"
            className="btn"
            onClick={() => {
              setSession({ state: 'loading' });
              void loadMe();
            }}
          >
            Try again
          </button>
        </div>
      </main>
    );
  }

  if (session.state === 'signed-out') {
    return <SignInPage />;
  }

  const { me } = session;
  const signedOut = () => setSession({ state: 'signed-out' });

  let page;
  const courseId = COURSE_PATH.exec(path)?.[1];
  const templatesOf = TEMPLATES_PATH.exec(path)?.[1];
  const template = TEMPLATE_PATH.exec(path);
  const rigName = path === '/rigs/new' ? undefined : RIG_PATH.exec(path)?.[1];
  switch (
    courseId
      ? '/courses/:id'
      : templatesOf
        ? '/courses/:id/templates'
        : template
          ? '/courses/:id/templates/:t'
          : rigName
            ? '/rigs/:name'
            : path
  ) {
    case '/':
      page = <HomePage me={me} onUnauthorized={signedOut} />;
      break;
    case '/labs':
      page = <LabsPage onUnauthorized={signedOut} />;
      break;
    case '/courses':
      page = <CoursesPage me={me} onUnauthorized={signedOut} />;
      break;
    case '/courses/:id':
      page = <CoursePage key={courseId} id={decodeURIComponent(courseId!)} me={me} onUnauthorized={signedOut} />;
      break;
    case '/courses/:id/templates':
      page = (
        <TemplatesPage
          key={templatesOf}
          courseId={decodeURIComponent(templatesOf!)}
          me={me}
          onUnauthorized={signedOut}
        />
      );
      break;
    case '/courses/:id/templates/:t':
      page = (
        <TemplateEditPage
          key={path}
          courseId={decodeURIComponent(template![1])}
          templateId={decodeURIComponent(template![2])}
          me={me}
          onUnauthorized={signedOut}
        />
      );
      break;
    case '/tokens':
      page = <TokensPage me={me} onUnauthorized={signedOut} />;
      break;
    case '/status':
      page = <StatusPage />;
      break;
    case '/usage':
      page = <UsagePage onUnauthorized={signedOut} />;
      break;
    case '/rigs':
      page = <RigsPage onUnauthorized={signedOut} />;
      break;
    case '/rigs/new':
      page = <RigAddPage onUnauthorized={signedOut} />;
      break;
    case '/rigs/:name':
      page = <RigPage key={rigName} name={decodeURIComponent(rigName!)} onUnauthorized={signedOut} />;
      break;
    case '/ledger':
      page = <LedgerPage onUnauthorized={signedOut} />;
      break;
    default:
      page = (
        <section>
          <h1>Page not found</h1>
          <p>
            There is no page at <code>{path}</code>. Go back to <Link href="/">your labs</Link>.
          </p>
        </section>
      );
  }

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Header me={me} path={path} onSignedOut={signedOut} />
      <main id="main" className="container" tabIndex={-1}>
        {page}
      </main>
    </>
  );
}
