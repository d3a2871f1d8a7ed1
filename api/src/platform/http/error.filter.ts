import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AppError, ErrorKind } from './app-error';

export function statusOf(kind: ErrorKind): number {
  switch (kind) {
    case 'invalid':
      return HttpStatus.BAD_REQUEST;
    case 'unauthenticated':
      return HttpStatus.UNAUTHORIZED;
    case 'forbidden':
      return HttpStatus.FORBIDDEN;
    case 'not_found':
      return HttpStatus.NOT_FOUND;
    case 'conflict':
      return HttpStatus.CONFLICT;
    case 'capacity':
      return HttpStatus.TOO_MANY_REQUESTS;
    case 'unavailable':
      return HttpStatus.SERVICE_UNAVAILABLE;
    default: {
      const never: never = kind;
      return never;
    }
  }
}

/**
 * One place where errors become HTTP answers: coded errors keep their message; Nest's own HTTP errors
 * keep theirs; anything else is a 500 with only a correlation id (the details go to the log).
 */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly log = new Logger('http');

  catch(err: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request & { id?: string }>();
    const correlationId = String(req.id ?? '');
    if (res.headersSent) return;
    if (err instanceof AppError) {
      if (err.retryAfterS) res.setHeader('Retry-After', String(err.retryAfterS));
      res.status(statusOf(err.kind)).json({ ...err.details, code: err.code, message: err.message, correlationId });
      return;
    }
    if (err instanceof HttpException) {
      const status = err.getStatus();
      const body = err.getResponse();
      const raw = typeof body === 'string' ? body : (body as { message?: unknown }).message;
      const message = Array.isArray(raw) ? raw.join('; ') : String(raw ?? err.message);
      res.status(status).json({ code: codeOf(status), message, correlationId });
      return;
    }
    this.log.error({ err, correlationId, path: req.path }, 'unhandled error');
    res.status(500).json({ code: 'internal', message: 'Something went wrong on our side.', correlationId });
  }
}

function codeOf(status: number): string {
  if (status === 400) return 'invalid_request';
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 429) return 'too_many_requests';
  return `http_${status}`;
}
