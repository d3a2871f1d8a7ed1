/** How a domain error reaches HTTP; the filter maps each kind to one status with an exhaustive switch. */
export type ErrorKind =
  'invalid' | 'unauthenticated' | 'forbidden' | 'not_found' | 'conflict' | 'capacity' | 'unavailable';

/**
 * Base of every coded domain error. `message` is shown to people as it is, so it says what was wrong
 * in their terms and never carries SQL, Docker or stack text.
 */
export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly kind: ErrorKind,
    message: string,
    readonly retryAfterS?: number,
    /** Machine-readable facts for the client (e.g. when a budget refills), sent beside the message. */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export const notFound = (code: string, message: string) => new AppError(code, 'not_found', message);
export const invalid = (code: string, message: string) => new AppError(code, 'invalid', message);
export const conflict = (code: string, message: string) => new AppError(code, 'conflict', message);
