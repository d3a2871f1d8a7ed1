import { createHmac } from 'node:crypto';

/**
 * The Jupyter token of a lab, derived from a key only the portal holds and the lab's id:
 * HMAC-SHA256(key, "riglab lab token\0" + session id), hex. Nothing of it is stored, so a dump of the
 * database opens no student's notebook; the portal computes it when it starts the container, calls
 * Jupyter's API, or proxies a request. Labs started before this existed keep their stored token
 * (lab_sessions.jupyter_token) until they end.
 */
export function labToken(key: string, sessionId: string): string {
  return createHmac('sha256', key).update(`riglab lab token\0${sessionId}`).digest('hex');
}

/** The token to use for a lab: its stored one (a lab from before derivation), or the derived one. */
export function tokenOf(key: string, session: { id: string; jupyterToken?: string | null }): string {
  return session.jupyterToken ?? labToken(key, session.id);
}
