import type { CampusRole } from '../../users/user.entity';
import type { CourseRole } from '../../courses/course.entity';
import type { SamlSettings } from '../../../platform/config/config';

/** Who a SAML assertion says the person is, in riglab's terms. */
export interface SsoIdentity {
  username: string;
  displayName: string;
  email: string | null;
  campusRole: CampusRole;
  courses: { code: string; term: string; role: CourseRole }[];
}

export type Attributes = Record<string, unknown>;

const USERNAME = /^[a-z][a-z0-9._-]{0,63}$/;

/** Values of the first attribute (in the configured order) that is present; one value or several. */
export function values(attrs: Attributes, names: readonly string[]): string[] {
  for (const name of names) {
    const v = attrs[name];
    if (v === undefined || v === null || v === '') continue;
    const list = (Array.isArray(v) ? v : [v]).filter((x): x is string | number =>
      ['string', 'number'].includes(typeof x),
    );
    if (list.length) return list.map(String);
  }
  return [];
}

/** All values of every configured name (roles and groups may be spread over URI and friendly names). */
function allValues(attrs: Attributes, names: readonly string[]): string[] {
  return [...new Set(names.flatMap((n) => values(attrs, [n])))];
}

/**
 * Maps an assertion's attributes (plus the NameID, available as `nameID`) to a riglab identity.
 * Usernames lose an eduPersonPrincipalName's `@scope` and are lower-cased; campus roles: admin when an
 * entitlement is one of SAML_ADMIN_ENTITLEMENTS, staff when an affiliation is one of
 * SAML_STAFF_AFFILIATIONS (scoped affiliations count by their part before `@`), else student.
 */
export function identityFrom(
  attrs: Attributes,
  s: Pick<SamlSettings, 'attributes' | 'adminEntitlements' | 'staffAffiliations' | 'coursePattern'>,
): { ok: true; identity: SsoIdentity } | { ok: false; reason: string } {
  const raw = values(attrs, s.attributes.username)[0];
  if (!raw) {
    return {
      ok: false,
      reason: `the assertion carries no username attribute (looked for ${s.attributes.username.join(', ')})`,
    };
  }
  const username = raw.split('@')[0].trim().toLowerCase();
  if (!USERNAME.test(username)) {
    return {
      ok: false,
      reason: `the username '${raw}' cannot be used in riglab (a-z, 0-9, '.', '_', '-', starting with a letter)`,
    };
  }
  const entitlements = allValues(attrs, s.attributes.entitlement);
  const affiliations = allValues(attrs, s.attributes.affiliation).map((a) => a.split('@')[0].toLowerCase());
  const campusRole: CampusRole = entitlements.some((e) => s.adminEntitlements.includes(e))
    ? 'admin'
    : affiliations.some((a) => s.staffAffiliations.includes(a))
      ? 'staff'
      : 'student';

  const courses = new Map<string, { code: string; term: string; role: CourseRole }>();
  const rank: Record<CourseRole, number> = { student: 0, ta: 1, instructor: 2 };
  for (const group of allValues(attrs, s.attributes.groups)) {
    const g = s.coursePattern.exec(group)?.groups;
    if (!g?.code || !g.term || !g.role) continue;
    const role = g.role.toLowerCase() as CourseRole;
    if (!(role in rank)) continue;
    const key = `${g.code}\u0000${g.term}`;
    const had = courses.get(key);
    // Listed in a course twice (student and TA, say): the higher role wins.
    if (!had || rank[role] > rank[had.role]) courses.set(key, { code: g.code, term: g.term, role });
  }
  return {
    ok: true,
    identity: {
      username,
      displayName: values(attrs, s.attributes.displayName)[0] ?? username,
      email: values(attrs, s.attributes.mail)[0] ?? null,
      campusRole,
      courses: [...courses.values()],
    },
  };
}
