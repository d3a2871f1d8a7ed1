import { loadConfig } from '../../../platform/config/config';
import { identityFrom } from './attributes';

const settings = {
  ...loadConfig({
    RIGLAB_ENV_FILE: '',
    DATABASE_URL: 'postgres://u@h/db',
    REDIS_URL: 'redis://h:1',
    SESSION_SECRET: 'x'.repeat(32),
    SAML_ADMIN_ENTITLEMENTS: 'urn:mace:uni.example:riglab:admin',
  }).saml,
};

const EPPN = 'urn:oid:1.3.6.1.4.1.5923.1.1.1.6';
const UID = 'urn:oid:0.9.2342.19200300.100.1.1';
const AFFIL = 'urn:oid:1.3.6.1.4.1.5923.1.1.1.1';
const SCOPED = 'urn:oid:1.3.6.1.4.1.5923.1.1.1.9';
const ENTITLE = 'urn:oid:1.3.6.1.4.1.5923.1.1.1.7';
const MEMBER = 'urn:oid:1.3.6.1.4.1.5923.1.5.1.1';

describe(identityFrom.name, () => {
  it('reads URI-named attributes, single values as strings and several as arrays', () => {
    const r = identityFrom(
      {
        [EPPN]: 'Ada.Lovelace@uni.example',
        'urn:oid:2.16.840.1.113730.3.1.241': 'Ada Lovelace',
        'urn:oid:0.9.2342.19200300.100.1.3': ['ada@uni.example', 'al@uni.example'],
        [MEMBER]: 'urn:mace:uni.example:course:CS101:2026F:student',
      },
      settings,
    );
    expect(r).toEqual({
      ok: true,
      identity: {
        username: 'ada.lovelace',
        displayName: 'Ada Lovelace',
        email: 'ada@uni.example',
        campusRole: 'student',
        courses: [{ code: 'CS101', term: '2026F', role: 'student' }],
      },
    });
  });

  it('falls back to friendly names, uid and finally the NameID', () => {
    expect(identityFrom({ eduPersonPrincipalName: 'bob@uni.example' }, settings)).toMatchObject({
      identity: { username: 'bob' },
    });
    expect(identityFrom({ [UID]: 'carol' }, settings)).toMatchObject({
      identity: { username: 'carol', displayName: 'carol', email: null },
    });
    expect(identityFrom({ nameID: 'dave' }, settings)).toMatchObject({ identity: { username: 'dave' } });
  });

  it('refuses an assertion without a usable username, saying why', () => {
    expect(identityFrom({ [AFFIL]: 'student' }, settings)).toEqual({
      ok: false,
      reason: expect.stringMatching(
        /^the assertion carries no username attribute \(looked for urn:oid:1\.3\.6\.1\.4\.1\.5923\.1\.1\.1\.6/,
      ),
    });
    expect(identityFrom({ [UID]: '4ever' }, settings)).toEqual({
      ok: false,
      reason: "the username '4ever' cannot be used in riglab (a-z, 0-9, '.', '_', '-', starting with a letter)",
    });
  });

  it.each([
    [{ [AFFIL]: ['student', 'member'] }, 'student'],
    [{ [AFFIL]: ['member', 'faculty'] }, 'staff'],
    [{ [SCOPED]: 'staff@uni.example' }, 'staff'],
    [{ [AFFIL]: 'Employee' }, 'staff'],
    [{ [AFFIL]: 'student', [ENTITLE]: ['urn:mace:uni.example:riglab:admin'] }, 'admin'],
    [{ [ENTITLE]: 'urn:mace:uni.example:other' }, 'student'],
  ])('campus role from %p is %s', (attrs, role) => {
    expect(identityFrom({ [UID]: 'x', ...attrs }, settings)).toMatchObject({ identity: { campusRole: role } });
  });

  it('takes course memberships from matching groups only, the higher role when listed twice', () => {
    const r = identityFrom(
      {
        [UID]: 'erin',
        [MEMBER]: [
          'urn:mace:uni.example:course:CS101:2026F:student',
          'urn:mace:uni.example:course:CS101:2026F:ta',
          'urn:mace:uni.example:course:ML300:2027S:instructor',
          'urn:mace:uni.example:course:CS101:2026F:dean',
          'urn:mace:uni.example:group:chess-club',
        ],
      },
      settings,
    );
    expect(r.ok && r.identity.courses).toEqual([
      { code: 'CS101', term: '2026F', role: 'ta' },
      { code: 'ML300', term: '2027S', role: 'instructor' },
    ]);
  });
});
