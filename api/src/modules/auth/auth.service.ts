import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Enrollment } from '../courses/course.entity';
import { ApiToken } from './api-token.entity';
import type { Principal } from './auth.decorators';

@Injectable()
export class AuthService {
  constructor(@InjectRepository(Enrollment) private readonly enrollments: Repository<Enrollment>) {}

  /** Who is signed in; a browser session also gets its CSRF token (sent back as X-CSRF-Token). */
  async describe(p: Principal, csrfToken?: string) {
    const enrollments = await this.enrollments.find({ where: { userId: p.user.id }, relations: { course: true } });
    return {
      id: p.user.id,
      username: p.user.username,
      displayName: p.user.displayName,
      email: p.user.email,
      campusRole: p.user.campusRole,
      authenticatedVia: p.via,
      scopes: p.scopes,
      ...(p.via === 'session' && csrfToken ? { csrfToken } : {}),
      courses: enrollments.map((e) => ({
        id: e.courseId,
        code: e.course?.code,
        term: e.course?.term,
        title: e.course?.title,
        role: e.role,
      })),
    };
  }

  tokenView(t: ApiToken) {
    return {
      id: t.id,
      name: t.name,
      prefix: t.prefix,
      scopes: t.scopes,
      owner: t.user?.username,
      createdAt: t.createdAt,
      expiresAt: t.expiresAt,
      lastUsedAt: t.lastUsedAt,
    };
  }
}
