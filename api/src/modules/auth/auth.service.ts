import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { AppError } from '../../platform/http/app-error';
import { Enrollment } from '../courses/course.entity';
import { UsersService } from '../users/users.service';
import { ApiToken } from './api-token.entity';
import type { Principal } from './auth.decorators';
import { AuthErrorCode } from './auth.errors';

@Injectable()
export class AuthService {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly users: UsersService,
    @InjectRepository(Enrollment) private readonly enrollments: Repository<Enrollment>,
  ) {}

  signInOptions() {
    return { devSignIn: this.config.devSignIn, sso: false };
  }

  async devSignIn(username: string) {
    if (!this.config.devSignIn) {
      throw new AppError(AuthErrorCode.DevSignInOff, 'not_found', 'development sign-in is off on this portal');
    }
    return this.users.byUsername(username);
  }

  async describe(p: Principal) {
    const enrollments = await this.enrollments.find({ where: { userId: p.user.id }, relations: { course: true } });
    return {
      id: p.user.id,
      username: p.user.username,
      displayName: p.user.displayName,
      email: p.user.email,
      campusRole: p.user.campusRole,
      authenticatedVia: p.via,
      scopes: p.scopes,
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
