/** Thin fetch wrapper for the portal's JSON API (same origin, cookie session). */

export type CampusRole = 'admin' | 'staff' | 'student';

export type CourseRole = 'instructor' | 'ta' | 'student';

/** A course as `GET /api/me` lists it (the caller's enrolments). */
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
  /** Present for a browser session: sent back as `X-CSRF-Token` on every state-changing request. */
  csrfToken?: string;
}

export interface AuthConfig {
  sso: { enabled: boolean; loginUrl: string; label: string };
  /** The development identity provider (demo accounts, password `demo`); never on in production. */
  devIdp: { enabled: boolean; accounts: string[] };
}

export interface CourseSettings {
  /** May instructors open a student's running notebook (audited)? */
  instructorNotebookAccess: boolean;
}

export interface CourseSummary {
  id: string;
  code: string;
  term: string;
  title: string;
  archivedAt: string | null;
  /** The caller's role in the course; null for a campus admin who is not on its roster. */
  role: CourseRole | null;
  memberCount: number;
  settings: CourseSettings;
}

export interface CourseTemplate {
  id: string;
  slug: string;
  title: string;
  published: boolean;
}

export interface CourseDetail extends CourseSummary {
  templates: CourseTemplate[];
}

export type MemberSource = 'manual' | 'csv' | 'sso';

export interface Member {
  username: string;
  displayName: string | null;
  email: string | null;
  role: CourseRole;
  source: MemberSource;
  addedAt: string;
}

export type RosterAction = 'add' | 'change' | 'keep' | 'error';

export interface RosterImport {
  rows: { line: number; username: string; role: string; action: RosterAction; error?: string }[];
  applied: boolean;
  summary: Record<RosterAction, number>;
}

/** A lab in a course, as its staff see it; `url` only when the caller may open it. */
export interface CourseLab {
  id: string;
  username: string;
  template: { id: string; slug: string; title: string } | null;
  state: LabState;
  reason: string | null;
  createdAt: string;
  readyAt: string | null;
  url?: string | null;
}

export type GpuMode = 'none' | 'whole' | 'shared';

export interface GpuSettings {
  mode: GpuMode;
  minVramMb?: number;
  models?: string[];
  driverKinds?: string[];
  allowCpuFallback?: boolean;
}

/** What an instructor sets on a template; every save that changes a lab-relevant field is a new version. */
export interface TemplateInput {
  title: string;
  description: string;
  image: string;
  cpus: number;
  memoryMb: number;
  pids: number;
  gpu: GpuSettings;
  idleTimeoutMinutes: number;
  maxSessionHours: number;
  env: Record<string, string>;
  starterFolder: string | null;
}

export interface TemplateVersion extends Omit<TemplateInput, 'title' | 'description' | 'gpu'> {
  id: string;
  version: number;
  gpu: GpuSettings & { words: string };
  starterArchive: { id: string; sha256: string; fileCount: number; totalBytes: number } | null;
  createdBy: string;
  createdAt: string;
}

export interface TemplateSummary {
  id: string;
  slug: string;
  title: string;
  description: string;
  published: boolean;
  /** The version students launch (when published). */
  currentVersion: number | null;
  latestVersion: number | null;
  updatedAt: string;
  current: TemplateVersion | null;
}

export interface TemplateDetail extends Omit<TemplateSummary, 'current'> {
  versions: TemplateVersion[];
}

export interface TemplateSaved extends TemplateDetail {
  /** A new version was written. */
  created: boolean;
  changed: string[];
}

export interface TemplatePreview {
  template: { id: string; slug: string; title: string; description: string };
  version: number;
  published: boolean;
  image: string;
  resources: { cpus: number; memoryMb: number; pids: number };
  gpu: string;
  limits: { idleTimeoutMinutes: number; maxSessionHours: number };
  envNames: string[];
  starter: {
    source: 'archive' | 'folder' | 'none';
    files: { path: string; bytes: number }[];
    fileCount: number;
    totalBytes: number;
  };
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
  /** Continues on CPU (a GPU lab whose slice ended, on a template that allows it). */
  cpuOnly?: boolean;
  /** The GPU a lab holds and until when: its time slice. */
  slice?: { gpuModel: string | null; endsAt: string; reservedGpuMinutes: number } | null;
  /** Where a GPU launch waits in the course's fair queue. */
  queue?: { since: string; position: number | null; estimatedStartAt: string | null } | null;
  gpuMinutesCharged?: number;
}

/** A budget line; `limit` (and then `left`) null means no limit. */
export interface BudgetLine {
  limit: number | null;
  used: number;
  left: number | null;
}

export interface QuotaLimits {
  maxConcurrentLabs: number | null;
  cpuHoursPerWeek: number | null;
  gpuMinutesPerWeek: number | null;
  coursePoolGpuMinutesPerWeek: number | null;
  sliceMinutes: number;
}

export interface QuotaCeiling extends QuotaLimits {
  /** GPU-minutes charged per minute of use, by GPU model. */
  gpuRates: Record<string, number>;
}

export interface Week {
  start: string;
  end: string;
}

export interface MyUsage {
  week: Week;
  refillsAt: string;
  courses: {
    course: CourseRef;
    gpuMinutes: BudgetLine;
    cpuHours: BudgetLine;
    committedGpuMinutes: number;
    liveLabs: number;
    limits: QuotaCeiling;
  }[];
}

export interface CourseQuota {
  course: { id: string; code: string; term: string };
  ceiling: QuotaCeiling;
  tightening: Partial<QuotaLimits>;
  effective: QuotaCeiling;
  updatedBy: string;
  updatedAt: string | null;
}

export interface CourseUsage {
  course: CourseRef;
  week: Week;
  limits: QuotaCeiling;
  pool: BudgetLine;
  students: { username: string; displayName: string | null; gpuMinutes: BudgetLine; cpuHours: BudgetLine }[];
  daily: { days: string[]; series: { username: string; gpuMinutes: number[] }[] };
}

export interface CampusUsage {
  week: Week;
  weeks: string[];
  courses: {
    course: CourseRef;
    students: number;
    gpuMinutesThisWeek: number;
    cpuHoursThisWeek: number;
    pool: BudgetLine;
    labsRunning: number;
    gpuQueued: number;
    limits: QuotaCeiling;
    weekly: number[];
  }[];
}

export type LedgerProblem = 'altered' | 'removed' | 'inserted' | 'reordered';

export interface LedgerVerifyReport {
  ok: boolean;
  entries: number;
  headSeq: string | null;
  headHash: string | null;
  durationMs: number;
  firstBad?: { seq: string; problem: LedgerProblem; detail: string };
}

export interface LedgerEntry {
  seq: string;
  at: string;
  kind: 'refill' | 'debit' | 'credit' | 'adjustment';
  username: string | null;
  course: string | null;
  sessionId: string | null;
  gpuMinutes: number;
  cpuMinutes: number;
  actor: string;
  reason: string;
  detail: Record<string, unknown>;
  hash: string;
}

export interface AdjustmentInput {
  username: string;
  course: string;
  gpuMinutes?: number;
  cpuMinutes?: number;
  reason: string;
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
    /** The parsed JSON body, for answers that carry more than a message (e.g. a roster preview on 422). */
    readonly body?: unknown,
  ) {
    super(message);
  }

  get network(): boolean {
    return this.status === 0;
  }
}

interface RequestOptions {
  body?: unknown;
  /** A raw body sent as it is with its own Content-Type (file uploads), instead of JSON. */
  raw?: { body: Blob; contentType: string };
  /** Non-2xx statuses whose JSON body is still a normal answer (e.g. 503 from /api/health). */
  accept?: number[];
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The session's CSRF token, from the last `GET /api/me`; the portal refuses state changes without it. */
let csrfToken: string | null = null;

export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  try {
    return await send<T>(method, path, opts);
  } catch (e) {
    // The token changes with the session (sign-in, expiry): learn the current one once and retry.
    if (!(e instanceof ApiError && e.status === 403 && e.code === 'auth.csrf' && UNSAFE.has(method))) throw e;
    await api.me();
    return send<T>(method, path, opts);
  }
}

async function send<T>(method: string, path: string, opts: RequestOptions): Promise<T> {
  const headers: Record<string, string> = {
    'Content-Type': opts.raw?.contentType ?? 'application/json',
    Accept: 'application/json',
  };
  if (UNSAFE.has(method) && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers,
      body: opts.raw ? opts.raw.body : opts.body === undefined ? undefined : JSON.stringify(opts.body),
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
  throw new ApiError(
    res.status,
    message,
    err.code,
    err.correlationId,
    retryAfter(res.headers.get('Retry-After')),
    data,
  );
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
    // A quota refusal's Retry-After is when the budget refills (days, maybe): retrying would not help.
    if (e.code?.startsWith('quota_')) throw e;
    const seconds = Math.min(60, e.retryAfterS ?? 5);
    onWait(seconds);
    await new Promise((r) => window.setTimeout(r, seconds * 1000));
    return fn();
  }
}

const enc = encodeURIComponent;
const course = (id: string) => `/api/courses/${enc(id)}`;

/** A rig as campus IT sees it (GET /api/rigs). */
export type RigState = 'registered' | 'burn-in' | 'active' | 'draining' | 'maintenance' | 'retired';
export interface Rig {
  id: string;
  name: string;
  endpoint: string;
  state: RigState;
  stateReason: string;
  drainTarget: RigState | null;
  drainDeadline: string | null;
  driver: string;
  cpus: number;
  memoryMb: number;
  lastSeenAt: string | null;
  engineVersion: string | null;
  tls?: boolean;
  inventory?: RigInventory | null;
  inventoryAt?: string | null;
}
/** What registration discovered through the rig's engine (GET /info and one telemetry probe). */
export interface RigInventory {
  discoveredAt: string;
  engine: {
    version: string | null;
    os: string | null;
    kernel: string | null;
    architecture: string | null;
    dockerRootDir: string | null;
    runtimes: string[];
  };
  cpus: number | null;
  memoryMb: number | null;
  diskTotalMb: number | null;
  diskFreeMb: number | null;
  gpus: Array<{
    index: number;
    id: string;
    model: string | null;
    vramMb: number | null;
    driver: 'nvidia' | 'amd';
    driverVersion: string | null;
    pcieGen: number | null;
    pcieGenMax: number | null;
    pcieWidth: number | null;
    pcieWidthMax: number | null;
    deviceIds: string[];
  }>;
  notAvailable: Array<{ source: string; why: string }>;
}
export interface RigAlert {
  severity: 'critical' | 'warning';
  text: string;
}
export interface Slots {
  used: number;
  total: number;
}
/** A rig on the board (GET /api/rigs, GET /api/rigs/:name): latest telemetry, slots, GPU health, alerts. */
export interface RigBoard extends Rig {
  load1: number | null;
  cpusSeen: number | null;
  memoryAvailableMb: number | null;
  memoryTotalMb: number | null;
  diskFreeMb: number | null;
  diskTotalMb: number | null;
  sampledAt: string | null;
  slots: Slots;
  gpus: Array<{
    index: number;
    model: string;
    vramMb: number;
    driver: string;
    healthy: boolean;
    healthReason: string;
    slots: Slots;
    temperatureC: number | null;
    pcieWidth: number | null;
    pcieWidthMax: number | null;
  }>;
  alerts: RigAlert[];
}
/** A registration or re-discovery: the rig, its connection test and the GPUs registered. */
export interface RigDiscovery extends Rig {
  connection: {
    ok: boolean;
    endpoint: string;
    latencyMs: number;
    version: string | null;
    apiVersion: string | null;
    error: string | null;
  };
  gpusAdded: Array<{ index: number; model: string; vramMb: number; driver: string; deviceIds: string[] }>;
  gpusSkipped: string[];
  gpusMissing: number[];
}
export interface NewRigInput {
  name: string;
  endpoint: string;
  tls?: { ca: string; cert: string; key: string };
  cpus?: number;
  memoryMb?: number;
  offline?: boolean;
  gpus?: boolean;
}
export interface RigAuditEntry {
  at: string;
  actor: string;
  action: string;
  target: string | null;
  detail: Record<string, unknown>;
}
export type BurnInStatus = 'running' | 'passed' | 'failed' | 'cancelled';
export interface BurnInRun {
  id: string;
  rig: string;
  status: BurnInStatus;
  startedAt: string;
  finishedAt: string | null;
  reason: string;
  progress: { done: number; total: number; current: string | null };
  checks: Array<{
    name: string;
    status: 'pending' | 'running' | 'passed' | 'failed' | 'not-available';
    detail: string;
    figures: Record<string, number>;
    startedAt: string | null;
    finishedAt: string | null;
  }>;
}
export interface RigReliability {
  rig: string;
  score: number;
  availability: number;
  launchSuccess: number;
  launches: number;
  failedLaunches: number;
  faults: number;
  faultsPerDay: number;
  windowStart: string;
  belowFloor: boolean;
  floor: number;
  gpus: Array<{
    index: number;
    model: string;
    score: number;
    availability: number;
    launches: number;
    failedLaunches: number;
    faults: number;
    faultsPerDay: number;
  }>;
}
export interface RigEvent {
  at: string;
  from: string | null;
  to: string;
  reason: string;
  actor: string;
}
export interface RigTelemetry {
  rig: string;
  resolution: string;
  since: string;
  series: Record<string, Array<{ at: string; value: number; min?: number; max?: number }>>;
}

export const api = {
  authConfig: () => request<AuthConfig>('GET', '/api/auth/config'),
  /** Ends the session; `redirect` is where the browser must go next (the IdP's single logout), if anywhere. */
  signOut: async () => {
    const r = await request<{ redirect?: string | null } | undefined>('POST', '/api/auth/sign-out');
    csrfToken = null;
    return { redirect: r?.redirect ?? null };
  },
  me: async () => {
    const me = await request<Me>('GET', '/api/me');
    csrfToken = me.csrfToken ?? null;
    return me;
  },
  tokens: () => request<ApiToken[]>('GET', '/api/tokens'),
  createToken: (body: { name: string; scopes: string[]; expires: string }) =>
    request<CreatedToken>('POST', '/api/tokens', { body }),
  revokeToken: (id: string) => request<void>('DELETE', `/api/tokens/${enc(id)}`),
  launchable: () => request<LaunchableTemplate[]>('GET', '/api/labs/launchable'),
  labs: () => request<Lab[]>('GET', '/api/labs'),
  launchLab: (templateId: string) => request<Lab>('POST', '/api/labs', { body: { templateId } }),
  stopLab: (id: string) => request<Lab>('DELETE', `/api/labs/${enc(id)}`),
  labProgressUrl: (id: string) => `/api/labs/${enc(id)}/progress`,
  /** The same stream, kept open while the lab lives: queue moves, slice warnings, stops. */
  labFollowUrl: (id: string) => `/api/labs/${enc(id)}/progress?follow=true`,
  myUsage: () => request<MyUsage>('GET', '/api/me/usage'),
  courseQuota: (id: string) => request<CourseQuota>('GET', `${course(id)}/quota`),
  putCourseQuota: (
    id: string,
    body: { tightening?: Partial<Record<keyof QuotaLimits, number | null>>; ceiling?: Partial<QuotaCeiling> },
  ) => request<CourseQuota>('PUT', `${course(id)}/quota`, { body }),
  courseUsage: (id: string) => request<CourseUsage>('GET', `${course(id)}/usage`),
  campusUsage: () => request<CampusUsage>('GET', '/api/usage/courses'),
  rigs: () => request<RigBoard[]>('GET', '/api/rigs'),
  rig: (name: string) => request<RigBoard>('GET', `/api/rigs/${enc(name)}`),
  addRig: (body: NewRigInput) => request<RigDiscovery>('POST', '/api/rigs', { body }),
  rediscoverRig: (name: string) => request<RigDiscovery>('POST', `/api/rigs/${enc(name)}/inventory`, { body: {} }),
  rigAudit: (name: string) => request<RigAuditEntry[]>('GET', `/api/rigs/${enc(name)}/audit`),
  startBurnIn: (name: string, reason: string) =>
    request<BurnInRun>('POST', `/api/rigs/${enc(name)}/burn-in`, { body: { reason } }),
  /** Null when the portal has no burn-in yet (404), so the pages still show the rest. */
  rigBurnIns: (name: string) => orNullOn404(request<BurnInRun[]>('GET', `/api/rigs/${enc(name)}/burn-in`)),
  latestBurnIns: () => orNullOn404(request<BurnInRun[]>('GET', '/api/rigs/burn-in/latest')),
  /** Null when no scores exist yet (404): "not yet scored". */
  reliability: () => orNullOn404(request<RigReliability[]>('GET', '/api/rigs/reliability')),
  rigEvents: (name: string) => request<RigEvent[]>('GET', `/api/rigs/${enc(name)}/events`),
  setRigState: (name: string, body: { to: RigState; reason: string; deadline?: string }) =>
    request<Rig>('POST', `/api/rigs/${enc(name)}/state`, { body }),
  rigTelemetry: (name: string, since: Date, resolution: 'raw' | '5m') =>
    request<RigTelemetry>(
      'GET',
      `/api/rigs/${enc(name)}/telemetry?resolution=${resolution}&since=${encodeURIComponent(since.toISOString())}`,
    ),
  verifyLedger: () => request<LedgerVerifyReport>('GET', '/api/ledger/verify'),
  ledger: (q: { user?: string; course?: string; limit?: number; before?: string }) => {
    const qs = new URLSearchParams(
      Object.entries(q)
        .filter(([, v]) => v !== undefined && v !== '')
        .map(([k, v]) => [k, String(v)]),
    ).toString();
    return request<{ entries: LedgerEntry[]; nextBefore: string | null }>('GET', `/api/ledger${qs ? `?${qs}` : ''}`);
  },
  ledgerExportUrl: (format: 'csv' | 'json') => `/api/ledger/export?format=${format}`,
  adjustLedger: (body: AdjustmentInput) => request<LedgerEntry>('POST', '/api/ledger/adjustments', { body }),
  health: () => request<Health>('GET', '/api/health', { accept: [503] }),

  courses: (archived = false) => request<CourseSummary[]>('GET', `/api/courses${archived ? '?archived=true' : ''}`),
  createCourse: (body: { code: string; term: string; title: string; settings?: Partial<CourseSettings> }) =>
    request<CourseSummary>('POST', '/api/courses', { body }),
  course: (id: string) => request<CourseDetail>('GET', course(id)),
  updateCourse: (id: string, body: { title?: string; settings?: Partial<CourseSettings> }) =>
    request<CourseSummary>('PATCH', course(id), { body }),
  archiveCourse: (id: string) => request<CourseSummary>('POST', `${course(id)}/archive`),
  unarchiveCourse: (id: string) => request<CourseSummary>('POST', `${course(id)}/unarchive`),
  members: (id: string) => request<Member[]>('GET', `${course(id)}/members`),
  putMember: (id: string, username: string, role: CourseRole) =>
    request<Member>('PUT', `${course(id)}/members/${enc(username)}`, { body: { role } }),
  removeMember: (id: string, username: string) => request<void>('DELETE', `${course(id)}/members/${enc(username)}`),
  /** A roster import; a file with errors comes back (422) as a normal answer with `applied: false`. */
  importRoster: async (id: string, csv: string, dryRun: boolean) => {
    try {
      return await request<RosterImport>('POST', `${course(id)}/roster/import`, { body: { csv, dryRun } });
    } catch (e) {
      const body =
        e instanceof ApiError && e.status === 422 ? (e.body as Partial<RosterImport> | undefined) : undefined;
      if (body && Array.isArray(body.rows) && body.summary) return { ...body, applied: false } as RosterImport;
      throw e;
    }
  },
  courseLabs: (id: string) => request<CourseLab[]>('GET', `${course(id)}/labs`),

  templates: (id: string) => request<TemplateSummary[]>('GET', `${course(id)}/templates`),
  template: (id: string, templateId: string) =>
    request<TemplateDetail>('GET', `${course(id)}/templates/${enc(templateId)}`),
  createTemplate: (id: string, body: TemplateInput & { slug: string }) =>
    request<TemplateSaved>('POST', `${course(id)}/templates`, { body }),
  editTemplate: (id: string, templateId: string, body: Partial<TemplateInput>) =>
    request<TemplateSaved>('PATCH', `${course(id)}/templates/${enc(templateId)}`, { body }),
  publishTemplate: (id: string, templateId: string, version?: number) =>
    request<TemplateDetail>('POST', `${course(id)}/templates/${enc(templateId)}/publish`, {
      body: version === undefined ? {} : { version },
    }),
  unpublishTemplate: (id: string, templateId: string) =>
    request<TemplateDetail>('POST', `${course(id)}/templates/${enc(templateId)}/unpublish`),
  /** The archive file as the raw body; the portal tells tar, tar.gz and zip apart by their bytes. */
  uploadStarter: (id: string, templateId: string, file: File) =>
    request<TemplateSaved>('PUT', `${course(id)}/templates/${enc(templateId)}/starter`, {
      raw: { body: file, contentType: archiveType(file.name) },
    }),
  previewTemplate: (id: string, templateId: string, version?: number) =>
    request<TemplatePreview>(
      'GET',
      `${course(id)}/templates/${enc(templateId)}/preview${version === undefined ? '' : `?version=${version}`}`,
    ),
};

function archiveType(name: string): string {
  if (/\.zip$/i.test(name)) return 'application/zip';
  if (/\.(tgz|tar\.gz|gz)$/i.test(name)) return 'application/gzip';
  if (/\.tar$/i.test(name)) return 'application/x-tar';
  return 'application/octet-stream';
}

/** What a request answers, or null when the portal answers 404 (a feature not there yet). */
async function orNullOn404<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
