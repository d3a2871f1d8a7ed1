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

export const SESSION_COOKIE = SESSION_COOKIE_NAME;
const NOT_WEB = /^\/(api|metrics|user|auth)(\/|$)/;

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
