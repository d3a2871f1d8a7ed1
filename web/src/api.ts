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
  throw new ApiError(res.status, message, err.code, err.correlationId);
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
  health: () => request<Health>('GET', '/api/health', { accept: [503] }),
};

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
