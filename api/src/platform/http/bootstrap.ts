import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import RedisStore from 'connect-redis';
import type { NextFunction, Request, Response } from 'express';
import session from 'express-session';
import { Logger } from 'nestjs-pino';
import { existsSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { AppModule } from '../../app.module';
import type { Config } from '../config/config';
import { Metrics } from '../metrics/metrics';
import { RedisService } from '../redis/redis.service';
import { ErrorFilter } from './error.filter';
import { validationPipe } from './validation.pipe';

import { SESSION_COOKIE_NAME } from '../../modules/auth/session-cookie';
import { LabProxyService } from '../../modules/proxy/lab-proxy.service';
import { AuthErrorCode } from '../../modules/auth/auth.errors';
import { SamlService } from '../../modules/auth/saml/saml.service';
import { SignInLimiter } from '../../modules/auth/sign-in-limiter';
import '../../modules/auth/session-data';
import { timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = SESSION_COOKIE_NAME;
const NOT_WEB = /^\/(api|metrics|user|auth|dev-idp)(\/|$)/;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Builds the portal: API, metrics, OpenAPI viewer, browser sessions and the web UI. Does not listen. */
export async function createApp(config: Config): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bufferLogs: true,
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  if (await app.get(DataSource).showMigrations()) {
    await app.close();
    throw new Error('the database schema is behind this version of riglab: run `npx riglab migrate` first');
  }
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');

  const metrics = app.get(Metrics);
  app.use((req: Request, res: Response, next: NextFunction) => {
    const end = metrics.requestDuration.startTimer();
    res.on('finish', () => {
      const route = (req as Request & { route?: { path?: string } }).route?.path;
      end({
        method: req.method,
        handler: route ? `${req.baseUrl}${route}` : 'unmatched',
        code: String(res.statusCode),
      });
    });
    next();
  });

  const sessions = session({
    name: SESSION_COOKIE,
    secret: config.sessionSecret,
    store: new RedisStore({ client: app.get(RedisService).client, prefix: `${config.deployment}:sess:` }),
    resave: false,
    saveUninitialized: false,
    rolling: true,
    cookie: {
      httpOnly: true,
      sameSite: 'lax',
      secure: config.publicUrl.startsWith('https://'),
      maxAge: config.sessionIdleMinutes * 60_000,
    },
  });
  // A session store outage must not take token-authenticated calls down with it: carry on unsigned-in.
  app.use((req: Request, res: Response, next: NextFunction) => sessions(req, res, () => next()));
  const maxAgeMs = config.sessionMaxHours * 3_600_000;
  app.use((req: Request, _res: Response, next: NextFunction) => {
    // Idle sessions expire in Redis (rolling cookie); busy ones end SESSION_MAX_HOURS after sign-in.
    const s = req.session;
    if (s?.userId && (!s.signedInAt || Date.now() - s.signedInAt > maxAgeMs)) return s.destroy(() => next());
    next();
  });
  app.use('/api', (req: Request, res: Response, next: NextFunction) => {
    // CSRF: a state-changing request riding on the session cookie must echo the session's token.
    // API tokens are exempt (a browser never sends them on its own).
    if (SAFE_METHODS.has(req.method) || req.headers.authorization || !req.session?.userId) return next();
    const sent = req.get('x-csrf-token');
    const want = req.session.csrfToken;
    if (sent && want && sent.length === want.length && timingSafeEqual(Buffer.from(sent), Buffer.from(want)))
      return next();
    res.status(403).json({
      statusCode: 403,
      code: AuthErrorCode.Csrf,
      message: 'This request lacks the CSRF token of your session (X-CSRF-Token): reload the page and try again.',
    });
  });

  // The development IdP exists once the SAML service has initialised (at listen), if DEV_IDP=true.
  const saml = app.get(SamlService);
  const limiter = app.get(SignInLimiter);
  let devIdp: ReturnType<NonNullable<SamlService['devIdp']>['router']> | undefined;
  app.use('/dev-idp', (req: Request, res: Response, next: NextFunction) => {
    if (!saml.devIdp) return next();
    devIdp ??= saml.devIdp.router((r) => limiter.allow(r));
    devIdp(req, res, next);
  });

  // Notebook traffic goes straight from the Node server to the proxy, ahead of Express: no middleware
  // but the session cookie's, read only when one is sent; bodies stream through untouched.
  const labProxy = app.get(LabProxyService);
  const server = app.getHttpServer() as Server;
  const express = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!LabProxyService.matches(req.url)) return express.forEach((l) => l.call(server, req, res));
    if (!req.headers.cookie) return void labProxy.web(req, res);
    sessions(req as Request, res as Response, () => void labProxy.web(req, res));
  });
  // Requests Node's parser cannot read (oversized headers, bad request lines) still get a JSON
  // message, like every other refusal, instead of Node's bodyless default.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const [status, reason, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'The request headers are too large.']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', 'The request took too long to arrive.']
          : [400, 'Bad Request', 'The request is not valid HTTP.'];
    const body = JSON.stringify({ code: status === 400 ? 'invalid_request' : `http_${status}`, message });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  server.on('upgrade', (req: Request, socket: Duplex, head: Buffer) => {
    if (!LabProxyService.matches(req.url)) return socket.destroy();
    // Browser sessions are read the same way as for HTTP requests.
    sessions(req, {} as Response, () => void labProxy.upgrade(req, socket, head));
  });

  app.useGlobalFilters(new ErrorFilter());
  app.useGlobalPipes(validationPipe());

  const doc = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('riglab API')
      .setDescription(
        'Lab portal on pooled retired mining rigs: labs, courses, rigs, health. Authenticate with `Authorization: Bearer <token>` (riglab token create).',
      )
      .setVersion('0.1.0')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('api/docs', app, doc, {
    jsonDocumentUrl: 'api/docs/openapi.json',
    customSiteTitle: 'riglab API',
  });

  const web = join(config.projectRoot, 'dist', 'web');
  if (existsSync(join(web, 'index.html'))) {
    app.useStaticAssets(web, { index: false, maxAge: '1h' });
    app.use((req: Request, res: Response, next: NextFunction) => {
      if (req.method !== 'GET' || NOT_WEB.test(req.path)) return next();
      res.setHeader('Cache-Control', 'no-cache');
      res.sendFile(join(web, 'index.html'));
    });
  }
  app.enableShutdownHooks();
  return app;
}
