import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import httpProxy from 'http-proxy';
import { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { DataSource } from 'typeorm';
import { Agent as Pools, type Dispatcher } from 'undici';
import { AuditService } from '../audit/audit.service';
import type { Principal } from '../auth/auth.decorators';
import type { CourseRole } from '../courses/course.entity';
import { CourseSettings, mayOpenNotebook, settingsOf } from '../courses/courses.policy';
import { PrincipalResolver } from '../auth/principal.resolver';
import { SESSION_COOKIE_NAME } from '../auth/session-cookie';
import { LabRoute, RouteTable } from '../labs/route-table';
import { RedisService } from '../../platform/redis/redis.service';

const LAB_PATH = /^\/user\/([a-z][a-z0-9._-]{0,63})\/([a-z0-9][a-z0-9-]{0,62})(\/|$)/;
const FLUSH_MS = 15_000;
/** Course role and settings are cached like routes and principals: no database trip per request. */
const COURSE_ACCESS_TTL_MS = 5000;
/** An instructor opening a student's notebook is audited once per lab per this window, not per request. */
const INSTRUCTOR_AUDIT_WINDOW_MS = 10 * 60_000;

type LabRequest = IncomingMessage & { riglabJupyterToken?: string };
type DispatchController = Parameters<NonNullable<Dispatcher.DispatchHandler['onRequestStart']>>[0];

/** Headers that describe one connection, not the message: never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);
const RETRYABLE = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT', 'UND_ERR_SOCKET']);

/**
 * Bytes an answer may have queued toward the browser before the lab's connection is paused. Measured
 * on what is really still waiting (`writableLength`), not on `write()`'s verdict, which is false for any
 * chunk larger than the socket's 16 KiB mark even when the kernel took it at once: pausing on that
 * stopped and restarted the lab's connection for every 64 KiB of a download.
 */
const HIGH_WATER = 256 * 1024;

type Verdict = { ok: true; route: LabRoute } | { ok: false; status: number; message: string; signIn?: boolean };

/**
 * One request's way back from the lab (undici's dispatch handler): status and headers without the
 * hop-by-hop ones, the body streamed with backpressure, HTML pages buffered to blank the token out.
 * A class rather than a handler of closures: one small object per request, its methods shared.
 */
class Relay implements Dispatcher.DispatchHandler {
  private controller: DispatchController | undefined;
  private html: Buffer[] | null = null;
  private paused = false;
  private readonly token: string | undefined;

  constructor(
    private readonly proxy: LabProxyService,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly target: string,
    readonly bodyless: boolean,
    readonly retried: boolean,
  ) {
    this.token = (req as LabRequest).riglabJupyterToken;
  }

  readonly browserGone = (): void => {
    if (!this.res.writableFinished) this.controller?.abort(new Error('the browser went away'));
  };

  private readonly drained = (): void => {
    this.paused = false;
    this.controller?.resume();
  };

  onRequestStart(c: DispatchController): void {
    this.controller = c;
  }

  onResponseStart(_c: DispatchController, status: number, h: Record<string, string | string[] | undefined>): void {
    const res = this.res;
    if (this.token && /^text\/html/i.test(String(h['content-type'] ?? ''))) {
      // The classic Notebook writes its token into its pages: relay them with it blanked out.
      this.html = [];
      res.statusCode = status;
      for (const k in h) {
        const v = h[k];
        if (v !== undefined && k !== 'content-length' && !HOP_BY_HOP.has(k)) res.setHeader(k, v);
      }
      return;
    }
    // Key, value, key, value: written as they are, no header object built and merged.
    const flat: Array<string | string[]> = [];
    for (const k in h) {
      const v = h[k];
      if (v !== undefined && !HOP_BY_HOP.has(k)) flat.push(k, v);
    }
    res.writeHead(status, flat as unknown as OutgoingHttpHeaders);
  }

  onResponseData(c: DispatchController, chunk: Buffer): void {
    if (this.html) return void this.html.push(chunk);
    const res = this.res;
    // A false from write() sets the 'drain' that comes once the socket has written everything out.
    if (!res.write(chunk) && !this.paused && res.writableLength > HIGH_WATER) {
      this.paused = true;
      c.pause();
      res.once('drain', this.drained);
    }
  }

  onResponseEnd(): void {
    const res = this.res;
    if (!this.html) return void res.end();
    const body = Buffer.from(Buffer.concat(this.html).toString('utf8').split(this.token!).join(''), 'utf8');
    res.setHeader('content-length', String(body.length));
    res.end(body);
  }

  onResponseError(_c: DispatchController, err: Error): void {
    this.proxy.relayFailed(this, err);
  }
}

/**
 * The authenticated notebook proxy: `/user/<name>/<lab>/…`, HTTP and WebSocket, to the lab's Jupyter.
 * Only the owner, admins, and a course's instructors where the course allows it (audited) pass; the Jupyter token is injected here and the portal's own cookie and
 * riglab token are stripped, so neither the token nor the portal session ever reach the notebook.
 */
@Injectable()
export class LabProxyService implements OnModuleDestroy {
  private readonly log = new Logger(LabProxyService.name);
  // Plain HTTP goes through undici's kept-alive connection pools (one per lab): no TCP handshake per
  // request, and a faster client than node:http's. WebSockets (upgraded once, never pooled) use http-proxy.
  private readonly client = new Pools({ connections: 64, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
  private readonly proxy = httpProxy.createProxyServer({ xfwd: true, ws: true, proxyTimeout: 0 });
  private readonly activity = new Map<string, number>();
  private readonly sockets = new Set<Duplex>();
  private readonly flusher: NodeJS.Timeout;
  private readonly courseAccess = new Map<
    string,
    { role: CourseRole | null; settings: CourseSettings; until: number }
  >();
  private readonly instructorAudited = new Map<string, number>();

  constructor(
    private readonly routes: RouteTable,
    private readonly principals: PrincipalResolver,
    @InjectDataSource() private readonly db: DataSource,
    private readonly audit: AuditService,
    private readonly redis: RedisService,
  ) {
    this.proxy.on('error', (err, req, res) => this.failed(err, req, res));
    this.flusher = setInterval(() => void this.flushActivity(), FLUSH_MS);
    this.flusher.unref();
  }

  static matches(url: string | undefined): boolean {
    return !!url && url.startsWith('/user/');
  }

  /**
   * Handles a `/user/…` HTTP request on the bare Node server, ahead of Express and Nest: notebook
   * traffic is most of the portal's requests and needs none of their middleware.
   */
  async web(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const v = await this.authorize(req);
    if (!v.ok) return this.refuse(req, res, v);
    this.prepare(req, v.route);
    this.forward(req, res, v.route.target);
  }

  /**
   * Sends one HTTP request on to the lab over a kept-alive connection and relays the answer. A lean
   * path of its own (no per-request option merging and pass chains): this is the portal's hottest code.
   */
  private forward(req: IncomingMessage, res: ServerResponse, target: string, retried = false): void {
    const headers: Record<string, string | string[]> = {};
    const incoming = req.headers;
    for (const k in incoming) {
      const v = incoming[k];
      if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    }
    const from = req.socket.remoteAddress ?? '';
    const xff = incoming['x-forwarded-for'];
    headers['x-forwarded-for'] = xff ? `${xff}, ${from}` : from;
    headers['x-forwarded-proto'] = incoming['x-forwarded-proto'] ?? 'http';
    headers['x-forwarded-host'] = incoming['x-forwarded-host'] ?? incoming.host ?? '';
    const bodyless = req.method === 'GET' || req.method === 'HEAD';
    const relay = new Relay(this, req, res, target, bodyless, retried);
    res.once('close', relay.browserGone);
    this.client.dispatch(
      {
        origin: target,
        path: req.url!,
        method: req.method as Dispatcher.HttpMethod,
        headers,
        body: bodyless ? null : req,
      },
      relay,
    );
  }

  /** A relay's request failed before any answer: once more for a GET or HEAD, else a 503 page. */
  relayFailed(relay: Relay, err: Error): void {
    const { req, res } = relay;
    // A kept-alive connection the lab closed just as it was reused: a GET or HEAD is safe to send
    // once more (a person would otherwise see a page with a missing script).
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (!relay.retried && !res.headersSent && relay.bodyless && RETRYABLE.has(code)) {
      this.log.debug(`proxy: ${code} on ${req.url}; retrying once`);
      return void setTimeout(() => this.forward(req, res, relay.target, true), 50);
    }
    if (res.headersSent) return void res.destroy(err);
    this.failed(err, req, res);
  }

  /** The lab did not answer: a plain 503 page (or a closed socket for a WebSocket). */
  private failed(err: Error, req: IncomingMessage, res: ServerResponse | Duplex): void {
    this.log.warn(`proxy: ${err.message}`);
    // The lab may have stopped: look the route up afresh next time instead of waiting for the TTL.
    const m = LAB_PATH.exec(req.url ?? '');
    if (m) this.routes.forget(m[1], m[2]);
    if (res instanceof ServerResponse) {
      if (!res.headersSent)
        this.answer(
          res,
          503,
          'Your lab is not answering right now. It may have stopped; open the portal to start it again.',
        );
      else res.end();
    } else res.destroy();
  }

  /** For the HTTP server's `upgrade` event (kernel and terminal WebSockets). */
  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const v = await this.authorize(req);
    if (!v.ok) {
      socket.end(
        `HTTP/1.1 ${v.status} ${v.status === 401 ? 'Unauthorized' : v.status === 403 ? 'Forbidden' : 'Not Found'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
      );
      return;
    }
    this.prepare(req, v.route);
    // Upgraded sockets are not the HTTP server's to close: track them so shutdown does not hang on them.
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    this.proxy.ws(req, socket, head, { target: v.route.target });
  }

  private async authorize(req: IncomingMessage): Promise<Verdict> {
    const m = LAB_PATH.exec(req.url ?? '');
    if (!m) return { ok: false, status: 404, message: 'There is no lab at this address.' };
    const [, username, lab] = m;
    let principal: Principal | null;
    try {
      const queryToken = req.url!.includes('token=') ? new URL(req.url!, 'http://x').searchParams.get('token') : null;
      principal = await this.principals.resolve(req, queryToken, true);
    } catch (err) {
      return { ok: false, status: 401, message: (err as Error).message };
    }
    if (!principal) return { ok: false, status: 401, message: 'Sign in to open your lab.', signIn: true };
    if (principal.via === 'token' && !['labs', 'admin'].some((s) => principal!.scopes.includes(s))) {
      return { ok: false, status: 403, message: 'This token lacks the scope labs.' };
    }
    const own = principal.user.username === username || principal.user.campusRole === 'admin';
    let route: LabRoute | null;
    try {
      route = await this.routes.lookup(username, lab);
    } catch {
      return { ok: false, status: 503, message: 'The portal cannot look up labs right now; try again shortly.' };
    }
    if (!route) {
      // Someone else's lab that is not running: say no more than "not yours".
      return own
        ? { ok: false, status: 404, message: 'This lab is not running. Open the portal to launch it.' }
        : { ok: false, status: 403, message: 'This lab belongs to someone else.' };
    }
    if (!own) {
      let access: { role: CourseRole | null; settings: CourseSettings };
      try {
        access = await this.courseAccessOf(principal.user.id, route.courseId);
      } catch {
        return {
          ok: false,
          status: 503,
          message: 'The portal cannot check course roles right now; try again shortly.',
        };
      }
      const verdict = mayOpenNotebook({
        viewerId: principal.user.id,
        viewerCampusRole: principal.user.campusRole,
        ownerId: route.ownerId,
        viewerCourseRole: access.role,
        settings: access.settings,
      });
      if (!verdict.ok) return { ok: false, status: 403, message: verdict.reason };
      if (verdict.as === 'instructor' && !(await this.auditInstructorAccess(principal, route, username, lab))) {
        return {
          ok: false,
          status: 503,
          message: 'The portal cannot record this access right now; try again shortly.',
        };
      }
    }
    this.activity.set(route.sessionId, Date.now());
    return { ok: true, route };
  }

  /** The viewer's role in a course and the course's settings, cached a few seconds per process. */
  private async courseAccessOf(userId: string, courseId: string) {
    const key = `${userId}:${courseId}`;
    const hit = this.courseAccess.get(key);
    if (hit && hit.until > Date.now()) return hit;
    const rows: Array<{ role: CourseRole | null; settings: Record<string, unknown> }> = await this.db.query(
      `SELECT e.role, c.settings FROM courses c
         LEFT JOIN enrollments e ON e.course_id = c.id AND e.user_id = $1
        WHERE c.id = $2`,
      [userId, courseId],
    );
    const entry = {
      role: rows[0]?.role ?? null,
      settings: settingsOf(rows[0]?.settings),
      until: Date.now() + COURSE_ACCESS_TTL_MS,
    };
    if (this.courseAccess.size >= 10_000) this.courseAccess.clear();
    this.courseAccess.set(key, entry);
    return entry;
  }

  /**
   * One audit event per instructor and lab per window: the first request of a visit is recorded, the
   * hundreds of requests a notebook page makes after it are not. Redis (SET NX) shares the window
   * between portal processes; when Redis is away each process records on its own (more, never fewer).
   * False when the event could not be written: then the access is refused, never unrecorded.
   */
  private async auditInstructorAccess(p: Principal, route: LabRoute, owner: string, lab: string): Promise<boolean> {
    const key = `${p.user.id}:${route.sessionId}`;
    if ((this.instructorAudited.get(key) ?? 0) > Date.now()) return true;
    let first = true;
    try {
      first =
        (await this.redis.client.set(
          `riglab:audit:instructor-access:${key}`,
          '1',
          'PX',
          INSTRUCTOR_AUDIT_WINDOW_MS,
          'NX',
        )) === 'OK';
    } catch {
      /* Redis away: record it here */
    }
    if (first) {
      try {
        await this.audit.record({
          action: 'lab.instructor_access',
          actorUserId: p.user.id,
          actor: p.user.username,
          targetType: 'lab_session',
          targetId: route.sessionId,
          detail: { owner, lab, courseId: route.courseId },
        });
      } catch (err) {
        this.log.warn(`could not record instructor access: ${(err as Error).message}`);
        await this.redis.client.del(`riglab:audit:instructor-access:${key}`).catch(() => undefined);
        return false;
      }
    }
    if (this.instructorAudited.size >= 10_000) this.instructorAudited.clear();
    this.instructorAudited.set(key, Date.now() + INSTRUCTOR_AUDIT_WINDOW_MS);
    return true;
  }

  /** Swaps the caller's credentials for the lab's own token before the request leaves. */
  private prepare(req: IncomingMessage, route: LabRoute): void {
    req.headers.authorization = `token ${route.jupyterToken}`;
    (req as LabRequest).riglabJupyterToken = route.jupyterToken;
    // Uncompressed from the lab, so pages can be relayed with the token blanked out (a fast local hop).
    delete req.headers['accept-encoding'];
    const cookie = req.headers.cookie;
    if (cookie) {
      const kept = cookie.split(/;\s*/).filter((c) => !c.startsWith(`${SESSION_COOKIE_NAME}=`));
      if (kept.length) req.headers.cookie = kept.join('; ');
      else delete req.headers.cookie;
    }
    if (!req.url!.includes('token=')) return;
    const url = new URL(req.url!, 'http://x');
    if (url.searchParams.has('token')) {
      url.searchParams.delete('token');
      req.url = url.pathname + url.search;
    }
  }

  private refuse(req: IncomingMessage, res: ServerResponse, v: Extract<Verdict, { ok: false }>): void {
    if (v.signIn && req.method === 'GET' && (req.headers.accept ?? '').includes('text/html')) {
      res.writeHead(302, { Location: `/?next=${encodeURIComponent(req.url ?? '/')}` });
      res.end();
      return;
    }
    this.answer(res, v.status, v.message);
  }

  private answer(res: ServerResponse, status: number, message: string): void {
    res.statusCode = status;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.end(JSON.stringify({ code: `proxy.${status}`, message }));
  }

  /** Proxy traffic is activity: written to Postgres in batches, for the idle culler. */
  private async flushActivity(): Promise<void> {
    if (this.activity.size === 0) return;
    const batch = [...this.activity.entries()];
    this.activity.clear();
    try {
      await this.db.query(
        `UPDATE lab_sessions s SET last_activity_at = greatest(s.last_activity_at, to_timestamp(v.t / 1000.0))
           FROM unnest($1::uuid[], $2::float8[]) AS v(id, t) WHERE s.id = v.id`,
        [batch.map(([id]) => id), batch.map(([, t]) => t)],
      );
    } catch {
      /* activity is best effort; the culler also asks Jupyter */
    }
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.flusher);
    for (const s of this.sockets) s.destroy();
    await this.flushActivity();
    this.proxy.close();
    await this.client.destroy();
  }
}
