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
    if (err instanceof RangeError && /call stack/i.test(err.message)) {
      // A body nested thousands deep exhausts the validators' recursion: the client's input, not our fault.
      res
        .status(400)
        .json({ code: 'invalid_request', message: 'The request body is nested too deeply.', correlationId });
      return;
    }
    if ((err as { code?: unknown })?.code === '22021') {
      // PostgreSQL refuses NUL in text (invalid byte sequence): a %00 or \u0000 the client sent.
      res.status(400).json({
        code: 'invalid_request',
        message: 'The request contains a NUL character (%00 or \\u0000), which no name or text may hold.',
        correlationId,
      });
      return;
    }
    const parser = bodyParserError(err);
    if (parser) {
      res.status(parser.status).json({ code: codeOf(parser.status), message: parser.message, correlationId });
      return;
    }
    this.log.error({ err, correlationId, path: req.path }, 'unhandled error');
    res.status(500).json({ code: 'internal', message: 'Something went wrong on our side.', correlationId });
  }
}

/** Express's body parsers throw http-errors (4xx, `expose`): the client's fault, said plainly. */
function bodyParserError(err: unknown): { status: number; message: string } | null {
  const e = err as { status?: unknown; expose?: unknown; type?: unknown; message?: unknown };
  if (!e || typeof e.status !== 'number' || e.status < 400 || e.status >= 500 || e.expose !== true) return null;
  if (e.type === 'entity.parse.failed') return { status: 400, message: 'The request body is not valid JSON.' };
  if (e.type === 'entity.too.large') return { status: 413, message: 'The request body is too large.' };
  return { status: e.status, message: String(e.message ?? 'The request body cannot be read.') };
}

function codeOf(status: number): string {
  if (status === 400) return 'invalid_request';
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 429) return 'too_many_requests';
  return `http_${status}`;
}
