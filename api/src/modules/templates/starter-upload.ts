import { HttpException, HttpStatus } from '@nestjs/common';
import type { Request } from 'express';
import { formatBytes } from './starter-archive';

/** Content types an archive upload may carry; the format itself is told by magic bytes. */
export const ARCHIVE_CONTENT_TYPES = [
  'application/x-tar',
  'application/tar',
  'application/gzip',
  'application/x-gzip',
  'application/x-compressed-tar',
  'application/zip',
  'application/x-zip-compressed',
  'application/octet-stream',
];

/**
 * Reads a raw upload body, at most `limit` bytes. It is read here, after the guards, rather than by a
 * body-parser middleware, so a caller without rights never gets megabytes buffered. Past the limit:
 * 413, from Content-Length when sent, else as soon as the count passes it.
 */
export async function readUpload(req: Request, limit: number): Promise<Buffer> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (!ARCHIVE_CONTENT_TYPES.includes(type))
    throw new HttpException(
      `send the archive as the raw request body with Content-Type application/x-tar, application/gzip or application/zip (got ${type || 'none'})`,
      HttpStatus.UNSUPPORTED_MEDIA_TYPE,
    );
  const tooLarge = () =>
    new HttpException(
      `starter archive is too large: uploads are at most ${formatBytes(limit)}`,
      HttpStatus.PAYLOAD_TOO_LARGE,
    );
  const declared = Number(req.headers['content-length'] ?? NaN);
  // The rest of an oversize body is never read: the answer goes out and the connection closes.
  if (Number.isFinite(declared) && declared > limit) {
    req.res?.setHeader('Connection', 'close');
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of req) {
    n += (chunk as Buffer).length;
    if (n > limit) {
      req.res?.setHeader('Connection', 'close');
      throw tooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
