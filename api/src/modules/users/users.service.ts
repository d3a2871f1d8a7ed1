import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AppError } from '../../platform/http/app-error';
import { CAMPUS_ROLES, CampusRole, User } from './user.entity';
import { UserErrorCode, userNotFound } from './users.errors';

/** Usernames become URL path segments and container labels: keep them to a safe, lower-case alphabet. */
export const USERNAME_RULE = /^[a-z][a-z0-9._-]{0,63}$/;

export interface NewUser {
  username: string;
  displayName?: string;
  email?: string | null;
  campusRole?: CampusRole;
  /** Campus IT chose this role: SSO sign-ins will not change it. */
  pinRole?: boolean;
}

/** What an SSO assertion says of a person (see auth/saml/attributes.ts). */
export interface SsoPerson {
  username: string;
  displayName: string;
  email: string | null;
  campusRole: CampusRole;
}

@Injectable()
export class UsersService {
  constructor(@InjectRepository(User) private readonly users: Repository<User>) {}

  async add(input: NewUser): Promise<User> {
    const username = input.username.trim().toLowerCase();
    if (!USERNAME_RULE.test(username)) {
      throw new AppError(
        UserErrorCode.BadUsername,
        'invalid',
        `username '${input.username}' is not allowed: use 1-64 characters a-z, 0-9, '.', '_' or '-', starting with a letter`,
      );
    }
    const role = input.campusRole ?? 'student';
    if (!CAMPUS_ROLES.includes(role)) {
      throw new AppError(
        UserErrorCode.BadRole,
        'invalid',
        `campus role '${role}' is not one of ${CAMPUS_ROLES.join(', ')}`,
      );
    }
    if (await this.users.exist({ where: { username } })) {
      throw new AppError(UserErrorCode.Exists, 'conflict', `user '${username}' already exists`);
    }
    return this.users.save(
      this.users.create({
        username,
        displayName: input.displayName ?? username,
        email: input.email ?? null,
        campusRole: role,
        campusRolePinned: input.pinRole ?? false,
      }),
    );
  }

  /** Creates the user unless present; used by seeding, which must change nothing on a second run. */
  async ensure(input: NewUser): Promise<User> {
    return (await this.users.findOne({ where: { username: input.username } })) ?? this.add(input);
  }

  /**
   * Creates the user at first SSO sign-in, or updates name, mail and campus role from the assertion
   * (a role pinned by campus IT stays). Placeholders created by a roster import are taken over.
   */
  async syncFromSso(p: SsoPerson): Promise<User> {
    const found = await this.users.findOne({ where: { username: p.username } });
    if (!found) {
      const created = await this.add({
        username: p.username,
        displayName: p.displayName,
        email: p.email,
        campusRole: p.campusRole,
      });
      await this.users.update({ id: created.id }, { lastSignInAt: new Date() });
      return { ...created, lastSignInAt: new Date() };
    }
    const changes: Partial<User> = { displayName: p.displayName, email: p.email, lastSignInAt: new Date() };
    if (!found.campusRolePinned) changes.campusRole = p.campusRole;
    await this.users.update({ id: found.id }, changes);
    return { ...found, ...changes } as User;
  }

  async byUsername(username: string): Promise<User> {
    const user = await this.users.findOne({ where: { username: username.toLowerCase() } });
    if (!user) throw userNotFound(username);
    return user;
  }

  byId(id: string): Promise<User | null> {
    return this.users.findOne({ where: { id } });
  }

  list(): Promise<User[]> {
    return this.users.find({ order: { username: 'ASC' } });
  }

  count(): Promise<number> {
    return this.users.count();
  }
}
