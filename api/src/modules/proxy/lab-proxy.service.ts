import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import httpProxy from 'http-proxy';
import { Agent, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { DataSource } from 'typeorm';
import type { Principal } from '../auth/auth.decorators';
import { PrincipalResolver } from '../auth/principal.resolver';
import { SESSION_COOKIE_NAME } from '../auth/session-cookie';
import { LabRoute, RouteTable } from '../labs/route-table';

const LAB_PATH = /^\/user\/([a-z][a-z0-9._-]{0,63})\/([a-z0-9][a-z0-9-]{0,62})(\/|$)/;
const FLUSH_MS = 15_000;

type LabRequest = IncomingMessage & { riglabJupyterToken?: string };

type Verdict = { ok: true; route: LabRoute } | { ok: false; status: number; message: string; signIn?: boolean };

/**
 * The authenticated notebook proxy: `/user/<name>/<lab>/…`, HTTP and WebSocket, to the lab's Jupyter.
 * Only the owner (and admins) pass; the Jupyter token is injected here and the portal's own cookie and
 * riglab token are stripped, so neither the token nor the portal session ever reach the notebook.
 */
@Injectable()
export class LabProxyService implements OnModuleDestroy {
  private readonly log = new Logger(LabProxyService.name);
  // Keep-alive connections to lab containers: no TCP handshake per request.
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 512, keepAliveMsecs: 10_000 });
  private readonly proxy = httpProxy.createProxyServer({ agent: this.agent, xfwd: true, ws: true, proxyTimeout: 0 });
  private readonly activity = new Map<string, number>();
  private readonly sockets = new Set<Duplex>();
  private readonly flusher: NodeJS.Timeout;

  constructor(
    private readonly routes: RouteTable,
    private readonly principals: PrincipalResolver,
    @InjectDataSource() private readonly db: DataSource,
  ) {
    this.proxy.on('error', (err, req, res) => {
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
      } else (res as Duplex).destroy();
    });
    this.proxy.on('proxyRes', (proxyRes, req, res) => this.relay(proxyRes, req as LabRequest, res));
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
    this.proxy.web(req, res, { target: v.route.target, selfHandleResponse: true });
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
      principal = await this.principals.resolve(req, new URL(req.url!, 'http://x').searchParams.get('token'), true);
    } catch (err) {
      return { ok: false, status: 401, message: (err as Error).message };
    }
    if (!principal) return { ok: false, status: 401, message: 'Sign in to open your lab.', signIn: true };
    if (principal.user.username !== username && principal.user.campusRole !== 'admin') {
      return { ok: false, status: 403, message: 'This lab belongs to someone else.' };
    }
    if (principal.via === 'token' && !['labs', 'admin'].some((s) => principal!.scopes.includes(s))) {
      return { ok: false, status: 403, message: 'This token lacks the scope labs.' };
    }
    let route: LabRoute | null;
    try {
      route = await this.routes.lookup(username, lab);
    } catch {
      return { ok: false, status: 503, message: 'The portal cannot look up labs right now; try again shortly.' };
    }
    if (!route) return { ok: false, status: 404, message: 'This lab is not running. Open the portal to launch it.' };
    this.activity.set(route.sessionId, Date.now());
    return { ok: true, route };
  }

  /**
   * The classic Notebook writes its token into the pages it serves (for its own scripts). Every request
   * through here already carries the token, so pages are relayed with it blanked out: the student never
   * sees it. Everything else streams through untouched.
   */
  private relay(proxyRes: IncomingMessage, req: LabRequest, res: ServerResponse): void {
    const token = req.riglabJupyterToken;
    if (!token || !/^text\/html/i.test(String(proxyRes.headers['content-type'] ?? ''))) {
      res.writeHead(proxyRes.statusCode ?? 502, proxyRes.headers);
      proxyRes.pipe(res);
      return;
    }
    const chunks: Buffer[] = [];
    proxyRes.on('data', (c: Buffer) => chunks.push(c));
    proxyRes.on('end', () => {
      const body = Buffer.from(Buffer.concat(chunks).toString('utf8').split(token).join(''), 'utf8');
      const headers = { ...proxyRes.headers, 'content-length': String(body.length) };
      delete headers['transfer-encoding'];
      res.writeHead(proxyRes.statusCode ?? 502, headers);
      res.end(body);
    });
    proxyRes.on('error', () => res.destroy());
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
    this.agent.destroy();
  }
}
