/** The development IdP's demo people. Their attributes use the URI names university IdPs send. */
export interface DevAccount {
  username: string;
  description: string;
  nameId: string;
  attributes: Record<string, string[]>;
}

export const DEV_PASSWORD = 'demo';
export const DEV_SCOPE = 'riglab.dev';
/** The entitlement that makes a development account a campus admin. */
export const DEV_ADMIN_ENTITLEMENT = 'urn:mace:riglab.dev:entitlement:riglab-admin';

const OID = {
  eppn: 'urn:oid:1.3.6.1.4.1.5923.1.1.1.6',
  uid: 'urn:oid:0.9.2342.19200300.100.1.1',
  displayName: 'urn:oid:2.16.840.1.113730.3.1.241',
  mail: 'urn:oid:0.9.2342.19200300.100.1.3',
  scopedAffiliation: 'urn:oid:1.3.6.1.4.1.5923.1.1.1.9',
  entitlement: 'urn:oid:1.3.6.1.4.1.5923.1.1.1.7',
  isMemberOf: 'urn:oid:1.3.6.1.4.1.5923.1.5.1.1',
};

const course = (role: string) => `urn:mace:${DEV_SCOPE}:course:CS101:2026F:${role}`;

function account(
  username: string,
  displayName: string,
  description: string,
  affiliation: string[],
  extra: { entitlement?: string[]; isMemberOf?: string[] } = {},
): DevAccount {
  const attributes: Record<string, string[]> = {
    [OID.eppn]: [`${username}@${DEV_SCOPE}`],
    [OID.uid]: [username],
    [OID.displayName]: [displayName],
    [OID.mail]: [`${username}@${DEV_SCOPE}`],
    [OID.scopedAffiliation]: affiliation.map((a) => `${a}@${DEV_SCOPE}`),
  };
  if (extra.entitlement) attributes[OID.entitlement] = extra.entitlement;
  if (extra.isMemberOf) attributes[OID.isMemberOf] = extra.isMemberOf;
  return { username, description, nameId: `${username}-${DEV_SCOPE}`, attributes };
}

export const DEV_ACCOUNTS: DevAccount[] = [
  account('student', 'Sam Student', 'student in CS101 (2026F)', ['student', 'member'], {
    isMemberOf: [course('student')],
  }),
  account('ta', 'Tara Assistant', 'student, teaching assistant of CS101 (2026F)', ['student', 'member'], {
    isMemberOf: [course('ta')],
  }),
  account('instructor', 'Ingrid Instructor', 'faculty, instructor of CS101 (2026F)', ['faculty', 'member'], {
    isMemberOf: [course('instructor')],
  }),
  account('admin', 'Alex Admin', 'campus IT (riglab admin)', ['staff', 'member'], {
    entitlement: [DEV_ADMIN_ENTITLEMENT],
  }),
];

/** A class of numbered students for demos and load tests: `student-1` … `student-9999`, all in CS101 (2026F). */
const CLASS_MEMBER = /^student-([1-9][0-9]{0,3})$/;
export const DEV_CLASS_HINT = 'student-1 … student-9999 — a class of students in CS101 (2026F), for load tests';

/** The development account with this username (any case, spaces around ignored), if there is one. */
export function devAccount(username: string): DevAccount | undefined {
  const name = username.trim().toLowerCase();
  const fixed = DEV_ACCOUNTS.find((a) => a.username === name);
  if (fixed) return fixed;
  const n = CLASS_MEMBER.exec(name)?.[1];
  return n
    ? account(name, `Student ${n}`, 'student in CS101 (2026F)', ['student', 'member'], {
        isMemberOf: [course('student')],
      })
    : undefined;
}

export { OID as SAML_OID };
