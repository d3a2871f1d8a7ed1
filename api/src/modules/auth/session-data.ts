import 'express-session';

declare module 'express-session' {
  /** What a browser session holds: who signed in and how. Everything else is read from Postgres. */
  interface SessionData {
    userId?: string;
    /** Sent back by the web app as X-CSRF-Token on state-changing requests. */
    csrfToken?: string;
    /** Epoch ms of the sign-in; the session ends SESSION_MAX_HOURS later however busy it is. */
    signedInAt?: number;
    /** The IdP's subject and session, for single logout. */
    saml?: { nameID: string; nameIDFormat: string; sessionIndex?: string };
  }
}
