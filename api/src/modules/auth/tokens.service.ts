import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomBytes } from 'node:crypto';
import { IsNull, Repository } from 'typeorm';
import { AppError } from '../../platform/http/app-error';
import { User } from '../users/user.entity';
import { ApiToken } from './api-token.entity';
import { AuthErrorCode } from './auth.errors';
import { scopesFor, TOKEN_SCOPES } from './scopes';

const PREFIX = 'rgl_';
const isUuid = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** `30d`, `12h`, `90m`, `never` or an ISO date → the expiry instant (null = never). */
export function parseExpiry(text: string, now = new Date()): Date | null {
  if (text === 'never') return null;
  const m = /^(\d{1,5})([mhdw])$/.exec(text);
  if (m) {
    const unit = { m: 60, h: 3600, d: 86400, w: 604800 }[m[2] as 'm' | 'h' | 'd' | 'w'];
    return new Date(now.getTime() + Number(m[1]) * unit * 1000);
  }
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? new Date(text) : new Date(NaN);
  if (Number.isNaN(at.getTime())) {
    throw new AppError(
      AuthErrorCode.BadExpiry,
      'invalid',
      `expiry '${text}' is not understood: use 30d, 12h, 90m, 2w, an ISO date, or never`,
    );
  }
  if (at <= now) throw new AppError(AuthErrorCode.BadExpiry, 'invalid', `expiry '${text}' is in the past`);
  return at;
}

export interface CreatedToken {
  token: string;
  record: ApiToken;
}

/**
 * API tokens: 32 random bytes, shown once; only their SHA-256 is stored. A slow hash is not needed
 * for tokens this random (a brute-force search of 2^256 is out of reach), and SHA-256 keeps lookups O(1).
 */
@Injectable()
export class TokensService {
  constructor(@InjectRepository(ApiToken) private readonly tokens: Repository<ApiToken>) {}

  async create(user: User, opts: { name?: string; scopes?: string[]; expiresAt?: Date | null }): Promise<CreatedToken> {
    const scopes = opts.scopes?.length ? [...new Set(opts.scopes)] : ['read', 'labs'];
    const unknown = scopes.filter((s) => !(TOKEN_SCOPES as readonly string[]).includes(s));
    if (unknown.length) {
      throw new AppError(
        AuthErrorCode.BadScope,
        'invalid',
        `unknown scope ${unknown.map((s) => `'${s}'`).join(', ')}; known scopes: ${TOKEN_SCOPES.join(', ')}`,
      );
    }
    const beyond = scopes.filter((s) => !scopesFor(user.campusRole).includes(s));
    if (beyond.length) {
      throw new AppError(
        AuthErrorCode.BadScope,
        'forbidden',
        `a ${user.campusRole} cannot hold a token with scope ${beyond.join(', ')}`,
      );
    }
    const token = PREFIX + randomBytes(32).toString('base64url');
    const record = await this.tokens.save(
      this.tokens.create({
        userId: user.id,
        name: opts.name ?? '',
        prefix: token.slice(0, 10),
        hash: hashToken(token),
        scopes,
        expiresAt: opts.expiresAt ?? null,
      }),
    );
    return { token, record };
  }

  /** The live token's record with its user, or the reason it is refused. Records the last use. */
  async verify(
    token: string,
  ): Promise<{ ok: true; record: ApiToken & { user: User } } | { ok: false; reason: string }> {
    if (!token.startsWith(PREFIX)) return { ok: false, reason: 'not a riglab token' };
    const record = await this.tokens.findOne({ where: { hash: hashToken(token) }, relations: { user: true } });
    if (!record || !record.user) return { ok: false, reason: 'unknown token' };
    if (record.revokedAt) return { ok: false, reason: 'token was revoked' };
    if (record.expiresAt && record.expiresAt <= new Date()) return { ok: false, reason: 'token has expired' };
    if (record.user.disabledAt) return { ok: false, reason: 'account is disabled' };
    // Recorded at most once a minute so a busy script does not turn every request into a write.
    if (!record.lastUsedAt || Date.now() - record.lastUsedAt.getTime() > 60_000) {
      await this.tokens.update({ id: record.id }, { lastUsedAt: new Date() });
    }
    return { ok: true, record: record as ApiToken & { user: User } };
  }

  list(userId?: string): Promise<ApiToken[]> {
    return this.tokens.find({
      where: userId ? { userId, revokedAt: IsNull() } : { revokedAt: IsNull() },
      relations: { user: true },
      order: { createdAt: 'ASC' },
    });
  }

  async revoke(id: string, ownerId?: string): Promise<ApiToken> {
    const record = isUuid(id) ? await this.tokens.findOne({ where: ownerId ? { id, userId: ownerId } : { id } }) : null;
    if (!record || record.revokedAt)
      throw new AppError(AuthErrorCode.TokenNotFound, 'not_found', `no live token with id ${id}`);
    record.revokedAt = new Date();
    return this.tokens.save(record);
  }
}
