import 'express-session';

declare module 'express-session' {
  /** What a browser session holds: only who signed in. Everything else is read from Postgres. */
  interface SessionData {
    userId?: string;
  }
}
