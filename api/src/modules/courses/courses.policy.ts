import type { CampusRole } from '../users/user.entity';
import { USERNAME_RULE } from '../users/users.service';
import { COURSE_ROLES, CourseRole } from './course.entity';

// Pure rules about courses and memberships: no Nest, no database. Unit-tested in courses.policy.spec.ts.

export interface CourseSettings {
  /** May the course's instructors open a student's running notebook (each opening is audited)? */
  instructorNotebookAccess: boolean;
}

export const DEFAULT_COURSE_SETTINGS: CourseSettings = { instructorNotebookAccess: false };

/** A course's settings with defaults for what was never set (older rows hold `{}`). */
export function settingsOf(stored: Record<string, unknown> | null | undefined): CourseSettings {
  return {
    instructorNotebookAccess: stored?.instructorNotebookAccess === true,
  };
}

export type SettingsCheck = { ok: true; settings: Partial<CourseSettings> } | { ok: false; reason: string };

/** Checks a settings patch: known keys only, each of its type. */
export function checkSettingsPatch(patch: unknown): SettingsCheck {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch))
    return { ok: false, reason: 'settings must be an object' };
  const known = Object.keys(DEFAULT_COURSE_SETTINGS);
  const unknown = Object.keys(patch).filter((k) => !known.includes(k));
  if (unknown.length)
    return {
      ok: false,
      reason: `unknown setting${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}; known: ${known.join(', ')}`,
    };
  const p = patch as Record<string, unknown>;
  if ('instructorNotebookAccess' in p && typeof p.instructorNotebookAccess !== 'boolean')
    return { ok: false, reason: 'settings.instructorNotebookAccess must be true or false' };
  return { ok: true, settings: p as Partial<CourseSettings> };
}

/** Course codes and terms appear in SSO group names and CLI arguments (`CS101:2026F`): no spaces or colons. */
export const COURSE_CODE_RULE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;

export function isCourseRole(v: string): v is CourseRole {
  return (COURSE_ROLES as readonly string[]).includes(v);
}

/**
 * Who may see what in a course, given their campus role and course role (null: not a member).
 * Campus admins may do everything; staff have no rights in a course they do not belong to.
 */
export type CourseAction = 'view' | 'view-roster' | 'view-labs' | 'manage';

export function mayInCourse(campusRole: CampusRole, courseRole: CourseRole | null, action: CourseAction): boolean {
  if (campusRole === 'admin') return true;
  switch (action) {
    case 'view':
      return courseRole !== null;
    case 'view-roster':
    case 'view-labs':
      return courseRole === 'instructor' || courseRole === 'ta';
    case 'manage':
      return courseRole === 'instructor';
    default: {
      const never: never = action;
      return never;
    }
  }
}

/**
 * May this viewer open that lab's notebook? The owner and campus admins always; an instructor of the
 * lab's course only when the course allows it. TAs and other students never.
 */
export function mayOpenNotebook(input: {
  viewerId: string;
  viewerCampusRole: CampusRole;
  ownerId: string;
  viewerCourseRole: CourseRole | null;
  settings: CourseSettings;
}): { ok: true; as: 'owner' | 'admin' | 'instructor' } | { ok: false; reason: string } {
  if (input.viewerId === input.ownerId) return { ok: true, as: 'owner' };
  if (input.viewerCampusRole === 'admin') return { ok: true, as: 'admin' };
  if (input.viewerCourseRole === 'instructor') {
    return input.settings.instructorNotebookAccess
      ? { ok: true, as: 'instructor' }
      : { ok: false, reason: "This course does not let instructors open students' notebooks." };
  }
  return { ok: false, reason: 'This lab belongs to someone else.' };
}

/**
 * An instructor (not an admin) may not remove or demote themselves: a course must not lose the one
 * person who manages it by a slip. Another instructor or an admin can do it.
 */
export function selfChangeRefusal(input: {
  actorId: string;
  actorCampusRole: CampusRole;
  targetUserId: string;
  newRole: CourseRole | null;
}): string | null {
  if (input.actorCampusRole === 'admin' || input.actorId !== input.targetUserId) return null;
  if (input.newRole === 'instructor') return null;
  return input.newRole === null
    ? 'you cannot remove yourself from a course you teach; ask another instructor or an admin'
    : 'you cannot change your own role in a course you teach; ask another instructor or an admin';
}

/** Lower-cased and trimmed; null when the result breaks USERNAME_RULE. */
export function normalizeUsername(raw: string): string | null {
  const u = raw.trim().toLowerCase();
  return USERNAME_RULE.test(u) ? u : null;
}

export const USERNAME_HINT = "use 1-64 characters a-z, 0-9, '.', '_' or '-', starting with a letter";

// ---- SSO membership sync ----------------------------------------------------------------------

export interface Membership {
  courseId: string;
  role: CourseRole;
  source: string;
}

export interface SsoPlan {
  add: Array<{ courseId: string; role: CourseRole }>;
  change: Array<{ courseId: string; role: CourseRole }>;
  remove: string[];
}

/**
 * The conflict rule between SSO attributes and hand-made rosters: memberships set by hand or CSV are
 * never touched by SSO; SSO-sourced ones are created, re-roled or removed to match what the IdP says
 * at each sign-in. `wanted` holds only courses that exist (unknown ones are counted by the caller).
 * A course named twice with different roles takes the strongest (instructor > ta > student).
 */
export function planSsoSync(current: Membership[], wanted: Array<{ courseId: string; role: CourseRole }>): SsoPlan {
  const rank: Record<CourseRole, number> = { student: 0, ta: 1, instructor: 2 };
  const want = new Map<string, CourseRole>();
  for (const w of wanted) {
    const had = want.get(w.courseId);
    if (!had || rank[w.role] > rank[had]) want.set(w.courseId, w.role);
  }
  const plan: SsoPlan = { add: [], change: [], remove: [] };
  const byCourse = new Map(current.map((m) => [m.courseId, m]));
  for (const [courseId, role] of want) {
    const m = byCourse.get(courseId);
    if (!m) plan.add.push({ courseId, role });
    else if (m.source === 'sso' && m.role !== role) plan.change.push({ courseId, role });
  }
  for (const m of current) if (m.source === 'sso' && !want.has(m.courseId)) plan.remove.push(m.courseId);
  return plan;
}
