/** Thin fetch wrapper for the portal's JSON API (same origin, cookie session). */

export type CampusRole = 'admin' | 'staff' | 'student';

export interface Course {
  id: string;
  code: string;
  term: string;
  title: string;
  role: string;
}

export interface Me {
  id: string;
  username: string;
  displayName: string | null;
  email: string | null;
  campusRole: CampusRole;
  authenticatedVia: string;
  scopes: string[];
  courses: Course[];
}

export interface AuthConfig {
  devSignIn: boolean;
  sso: boolean;
}

export interface ApiToken {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  owner?: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

export interface CreatedToken extends ApiToken {
  token: string;
}

export type Up = 'up' | 'down';

export interface Check {
  status: Up | string;
  latencyMs?: number | null;
  error?: string;
}

export interface RigCheck extends Check {
  name: string;
  state: string;
  endpoint: string;
  engineVersion?: string;
}

export type LabState = 'queued' | 'placing' | 'starting' | 'ready' | 'stopping' | 'stopped' | 'failed' | 'lost';

export interface CourseRef {
  id: string;
  code: string;
  term: string;
  title: string;
}

export interface LaunchableTemplate {
  id: string;
  slug: string;
  title: string;
  description: string | null;
  course: CourseRef;
  resources: { cpus: number; memoryMb: number; gpu: boolean } | null;
}

export interface Lab {
  id: string;
  name: string;
  state: LabState;
  stateReason: string | null;
  owner?: string;
  template: { id: string; slug: string; title: string; version: number } | null;
  course: CourseRef | null;
  rig: string | null;
  url: string | null;
  gpu: boolean;
  createdAt: string;
  readyAt: string | null;
  stoppedAt: string | null;
  warning: { since: string; message: string | null } | null;
}

/** One `data:` event of `GET /api/labs/:id/progress`; the last one also carries the outcome. */
export interface LabProgressEvent {
  progress: number;
  message: string;
  at?: string;
  state?: LabState;
  ready?: boolean;
  failed?: boolean;
  url?: string | null;
}

export interface Health {
  status: 'ok' | 'degraded' | 'down';
  checks: { database: Check; redis: Check; rigs: RigCheck[] };
}

/** An error the UI can show: `message` is always a sentence a person can read. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
    readonly correlationId?: string,
    /** Seconds to wait before retrying, from a 429/503 `Retry-After` header. */
    readonly retryAfterS?: number,
  ) {
    super(message);
  }

  get network(): boolean {
    return this.status === 0;
  }
}

interface RequestOptions {
  body?: unknown;
  /** Non-2xx statuses whose JSON body is still a normal answer (e.g. 503 from /api/health). */
  accept?: number[];
}

export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
  } catch {
    throw new ApiError(0, 'Cannot reach the riglab portal. Check your network connection and try again.');
  }
  const text = await res.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (res.ok || opts.accept?.includes(res.status)) {
    return data as T;
  }
  const err = (data ?? {}) as { code?: string; message?: unknown; correlationId?: string };
  const message =
    typeof err.message === 'string' && err.message
      ? err.message
      : Array.isArray(err.message)
        ? err.message.join('; ')
        : `The portal answered ${res.status} ${res.statusText || ''}`.trim();
  throw new ApiError(res.status, message, err.code, err.correlationId, retryAfter(res.headers.get('Retry-After')));
}

/** `Retry-After` as seconds (it may be a number of seconds or an HTTP date). */
function retryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  const n = Number(header);
  if (Number.isFinite(n)) return Math.max(0, Math.ceil(n));
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/**
 * Runs `fn`; when the portal answers 429 (too busy), waits the `Retry-After` seconds (5 s if it gave none),
 * telling `onWait` how long, and tries once more. A second 429 is thrown to the caller.
 */
export async function retryOnceWhenBusy<T>(fn: () => Promise<T>, onWait: (seconds: number) => void): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 429) throw e;
    const seconds = Math.min(60, e.retryAfterS ?? 5);
    onWait(seconds);
    await new Promise((r) => window.setTimeout(r, seconds * 1000));
    return fn();
  }
}

export const api = {
  authConfig: () => request<AuthConfig>('GET', '/api/auth/config'),
  devSignIn: (username: string) =>
    request<{ username: string }>('POST', '/api/auth/dev-sign-in', { body: { username } }),
  signOut: () => request<void>('POST', '/api/auth/sign-out'),
  me: () => request<Me>('GET', '/api/me'),
  tokens: () => request<ApiToken[]>('GET', '/api/tokens'),
  createToken: (body: { name: string; scopes: string[]; expires: string }) =>
    request<CreatedToken>('POST', '/api/tokens', { body }),
  revokeToken: (id: string) => request<void>('DELETE', `/api/tokens/${encodeURIComponent(id)}`),
  launchable: () => request<LaunchableTemplate[]>('GET', '/api/labs/launchable'),
  labs: () => request<Lab[]>('GET', '/api/labs'),
  launchLab: (templateId: string) => request<Lab>('POST', '/api/labs', { body: { templateId } }),
  stopLab: (id: string) => request<Lab>('DELETE', `/api/labs/${encodeURIComponent(id)}`),
  labProgressUrl: (id: string) => `/api/labs/${encodeURIComponent(id)}/progress`,
  health: () => request<Health>('GET', '/api/health', { accept: [503] }),
};

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
