import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditEvent } from '../../api/src/modules/audit/audit-event.entity';
import { Course, Enrollment } from '../../api/src/modules/courses/course.entity';
import { User } from '../../api/src/modules/users/user.entity';
import { DEV_ACCOUNTS, SAML_OID } from '../../api/src/dev-idp/accounts';
import { ensureKeyPair } from '../../api/src/modules/auth/saml/keys';
import { migratedDatabase } from '../support/app';
import { DevIdentityProvider } from '../../api/src/dev-idp/dev-idp';
import { formOf, startSignIn, startSsoPortal, TEST_SAML_KEYS, type SsoPortal } from '../support/sso';

const account = (name: string) => DEV_ACCOUNTS.find((a) => a.username === name)!;

describe('university sign-in (SAML 2.0) against the development IdP', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let portal: SsoPortal;

  beforeAll(async () => {
    db = await migratedDatabase();
    await db.ds.getRepository(Course).save({ code: 'CS101', term: '2026F', title: 'Intro' });
    await db.ds.getRepository(Course).save({ code: 'CS202', term: '2026F', title: 'Machine learning' });
    portal = await startSsoPortal({ DATABASE_URL: db.url, RUN_WORKERS: 'false', SESSION_MAX_HOURS: '1' });
  });
  afterAll(async () => {
    await portal?.close();
    await db?.drop();
  });

  /** A fresh AuthnRequest id, as the IdP would see it. */
  async function requestId(): Promise<string> {
    const idpUrl = new URL(await startSignIn(portal.url));
    return (await portal.idp.parseRequest(Object.fromEntries(idpUrl.searchParams))).id;
  }

  async function post(samlResponse: string) {
    const res = await fetch(`${portal.url}/auth/saml/acs`, {
      method: 'POST',
      body: new URLSearchParams({ SAMLResponse: samlResponse, RelayState: '/courses' }),
      redirect: 'manual',
    });
    return {
      status: res.status,
      location: res.headers.get('location'),
      cookie: res.headers.get('set-cookie'),
      html: await res.text(),
    };
  }

  const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
  const encode = (xml: string) => Buffer.from(xml, 'utf8').toString('base64');

  it('publishes SP metadata with the ACS, single logout and a signing certificate', async () => {
    const res = await fetch(`${portal.url}/auth/saml/metadata`);
    expect(res.status).toBe(200);
    const xml = await res.text();
    expect(xml).toContain(`entityID="${portal.url}/auth/saml/metadata"`);
    expect(xml).toContain(`Location="${portal.url}/auth/saml/acs"`);
    expect(xml).toContain(`Location="${portal.url}/auth/saml/slo"`);
    expect(xml).toContain('WantAssertionsSigned="true"');
    expect(xml).toMatch(/<(ds:)?X509Certificate>[A-Za-z0-9+/=\s]{200,}</);
  });

  it('signs a student in through the IdP page and lands them where they were going', async () => {
    const idpPage = await startSignIn(portal.url, '/courses');
    expect(idpPage.startsWith(`${portal.url}/dev-idp/sso?SAMLRequest=`)).toBe(true);
    const page = await (await fetch(idpPage)).text();
    expect(page).toContain('<input name="username"');
    const { action, fields } = formOf(page);

    const wrong = await fetch(action, {
      method: 'POST',
      body: new URLSearchParams({ ...fields, username: 'student', password: 'nope' }),
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('Unknown username or wrong password.');

    const ok = await fetch(action, {
      method: 'POST',
      body: new URLSearchParams({ ...fields, username: 'student', password: 'demo' }),
    });
    const back = formOf(await ok.text());
    expect(back.action).toBe(`${portal.url}/auth/saml/acs`);
    const acs = await post(back.fields.SAMLResponse);
    expect(acs.status).toBe(303);
    expect(acs.location).toBe('/courses');
    expect(acs.cookie).toMatch(/riglab_session=.+; Path=\/; Expires=.+; HttpOnly; SameSite=Lax/);

    const me = await (await fetch(`${portal.url}/api/me`, { headers: { cookie: acs.cookie!.split(';')[0] } })).json();
    expect(me).toMatchObject({
      username: 'student',
      displayName: 'Sam Student',
      email: 'student@riglab.dev',
      campusRole: 'student',
    });
    expect(me.courses).toEqual([expect.objectContaining({ code: 'CS101', term: '2026F', role: 'student' })]);
    const audit = await db.ds.getRepository(AuditEvent).findOneByOrFail({ action: 'auth.sign_in', actor: 'student' });
    expect(audit.detail).toMatchObject({ via: 'saml', campusRole: 'student' });
  });

  it('maps campus roles from affiliation and entitlement attributes', async () => {
    await portal.signIn('instructor');
    await portal.signIn('admin');
    const users = db.ds.getRepository(User);
    expect((await users.findOneByOrFail({ username: 'instructor' })).campusRole).toBe('staff');
    expect((await users.findOneByOrFail({ username: 'admin' })).campusRole).toBe('admin');
  });

  it('signs in a numbered class member of the development IdP as a CS101 student, and no one past the class', async () => {
    const s = await portal.signIn('student-42');
    const me = (await (await fetch(`${portal.url}/api/me`, { headers: { cookie: s.cookie } })).json()) as {
      username: string;
    };
    expect(me.username).toBe('student-42');
    const u = await db.ds.getRepository(User).findOneByOrFail({ username: 'student-42' });
    const courses = await db.ds
      .getRepository(Enrollment)
      .find({ where: { userId: u.id }, relations: { course: true } });
    expect(courses.map((e) => `${e.course!.code}:${e.role}`)).toEqual(['CS101:student']);
    for (const nobody of ['student-0', 'student-10000', 'student-07'])
      await expect(portal.signIn(nobody)).rejects.toThrow(`the dev IdP did not sign ${nobody} in (HTTP 401)`);
  });

  it('updates roles and SSO memberships at each sign-in, never touching hand-made ones', async () => {
    const users = db.ds.getRepository(User);
    const courses = db.ds.getRepository(Course);
    const cs101 = await courses.findOneByOrFail({ code: 'CS101' });
    const cs202 = await courses.findOneByOrFail({ code: 'CS202' });
    const groups = (...g: string[]) => g.map((x) => `urn:mace:riglab.dev:course:${x}`);
    const signInAs = async (attributes: Record<string, string[]>) => {
      const res = await post(await portal.idp.loginResponse(await requestId(), account('ta'), { attributes }));
      expect(res.status).toBe(303);
    };
    const base = { ...account('ta').attributes };
    await signInAs({
      ...base,
      [SAML_OID.isMemberOf]: groups('CS101:2026F:ta', 'CS202:2026F:student', 'CS999:2026F:student'),
    });
    const ta = await users.findOneByOrFail({ username: 'ta' });
    const enrollments = () =>
      db.ds
        .getRepository(Enrollment)
        .find({ where: { userId: ta.id }, order: { courseId: 'ASC' } })
        .then((es) =>
          Object.fromEntries(es.map((e) => [e.courseId === cs101.id ? 'CS101' : 'CS202', `${e.role}/${e.source}`])),
        );
    expect(await enrollments()).toEqual({ CS101: 'ta/sso', CS202: 'student/sso' });

    // The instructor adds the TA to CS202 by hand as a TA: SSO must not undo it.
    await db.ds
      .getRepository(Enrollment)
      .update({ userId: ta.id, courseId: cs202.id }, { role: 'ta', source: 'manual' });
    // Next term's attributes: promoted to faculty, dropped from both course groups.
    await signInAs({ ...base, [SAML_OID.scopedAffiliation]: ['faculty@riglab.dev'], [SAML_OID.isMemberOf]: [] });
    expect(await enrollments()).toEqual({ CS202: 'ta/manual' });
    expect((await users.findOneByOrFail({ username: 'ta' })).campusRole).toBe('staff');
  });

  describe('refuses responses that must not sign anyone in, with a clear page and an audit event', () => {
    const cases: Array<[string, () => Promise<string>, RegExp]> = [
      [
        'unsigned',
        async () =>
          encode(
            decode(await portal.idp.loginResponse(await requestId(), account('student'))).replace(
              /<ds:Signature[\s\S]*?<\/ds:Signature>/g,
              '',
            ),
          ),
        /not signed by a key riglab trusts/,
      ],
      [
        'tampered (attribute changed after signing)',
        async () =>
          encode(
            decode(await portal.idp.loginResponse(await requestId(), account('student'))).replaceAll(
              'student@riglab.dev',
              'admin@riglab.dev',
            ),
          ),
        /not signed by a key riglab trusts/,
      ],
      [
        'for another audience',
        async () =>
          portal.idp.loginResponse(await requestId(), account('student'), { audience: 'https://other.example/sp' }),
        /meant for another service/,
      ],
      [
        'for another recipient',
        async () =>
          portal.idp.loginResponse(await requestId(), account('student'), { recipient: 'https://other.example/acs' }),
        /meant for another service/,
      ],
      [
        'addressed to another destination',
        async () =>
          portal.idp.loginResponse(await requestId(), account('student'), { destination: 'https://other.example/acs' }),
        /meant for another service/,
      ],
      [
        'expired',
        async () =>
          portal.idp.loginResponse(await requestId(), account('student'), {
            notBefore: new Date(Date.now() - 3_600_000),
            notOnOrAfter: new Date(Date.now() - 1_800_000),
          }),
        /has expired/,
      ],
      [
        'not yet valid',
        async () =>
          portal.idp.loginResponse(await requestId(), account('student'), {
            notBefore: new Date(Date.now() + 1_800_000),
            notOnOrAfter: new Date(Date.now() + 3_600_000),
          }),
        /not valid yet/,
      ],
      [
        'from an unknown issuer',
        async () =>
          portal.idp.loginResponse(await requestId(), account('student'), { issuer: 'https://evil.example/idp' }),
        /identity provider riglab does not trust/,
      ],
      [
        'signed with the wrong certificate',
        async () =>
          portal.idp.loginResponse(await requestId(), account('student'), {
            signer: await ensureKeyPair(mkdtempSync(join(tmpdir(), 'riglab-rogue-')), 'rogue', 'rogue IdP'),
          }),
        /not signed by a key riglab trusts/,
      ],
      [
        'answering no request of ours',
        async () => portal.idp.loginResponse('_never-asked', account('student')),
        /already used or has expired/,
      ],
    ];
    it.each(cases)('%s', async (_name, make, reason) => {
      const before = await db.ds.getRepository(AuditEvent).countBy({ action: 'auth.sign_in_rejected' });
      const res = await post(await make());
      expect(res.status).toBe(403);
      expect(res.cookie).toBeNull();
      expect(res.html).toContain('<title>Sign-in failed · riglab</title>');
      expect(res.html).toMatch(reason);
      const ref = /Reference: <code>([^<]+)<\/code>/.exec(res.html)?.[1];
      expect(ref).toBeTruthy();
      expect(res.html).not.toMatch(/<saml|at .+\.ts:\d+|Error:/);
      expect(await db.ds.getRepository(AuditEvent).countBy({ action: 'auth.sign_in_rejected' })).toBe(before + 1);
      expect(
        await db.ds.getRepository(AuditEvent).findOneByOrFail({ action: 'auth.sign_in_rejected', requestId: ref }),
      ).toBeTruthy();
    });

    it('replayed: the same response is accepted once only', async () => {
      const response = await portal.idp.loginResponse(await requestId(), account('student'));
      expect((await post(response)).status).toBe(303);
      const again = await post(response);
      expect(again.status).toBe(403);
      expect(again.html).toMatch(/already used or has expired/);
    });

    it('a POST without a response', async () => {
      const res = await fetch(`${portal.url}/auth/saml/acs`, { method: 'POST', body: new URLSearchParams({}) });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('The sign-in answer is missing');
    });
  });

  describe('browser sessions', () => {
    it('need the CSRF token for state-changing requests; API tokens do not', async () => {
      const s = await portal.signIn('student');
      const create = (headers: Record<string, string>) =>
        fetch(`${portal.url}/api/tokens`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ name: 'ci', scopes: ['read'] }),
        });
      const none = await create({ cookie: s.cookie });
      expect(none.status).toBe(403);
      expect(await none.json()).toMatchObject({ code: 'auth.csrf' });
      expect((await create({ cookie: s.cookie, 'x-csrf-token': 'forged' })).status).toBe(403);
      const ok = await create({ cookie: s.cookie, 'x-csrf-token': s.csrf });
      expect(ok.status).toBe(201);
      const { token } = await ok.json();
      expect((await create({ authorization: `Bearer ${token}` })).status).toBe(201);
    });

    it('end at sign-out (on every process: the session is gone from Redis) and send the browser to IdP logout', async () => {
      const s = await portal.signIn('student');
      const out = await fetch(`${portal.url}/api/auth/sign-out`, {
        method: 'POST',
        headers: { cookie: s.cookie, 'x-csrf-token': s.csrf },
      });
      expect(out.status).toBe(200);
      const { redirect } = await out.json();
      expect(redirect).toMatch(new RegExp(`^${portal.url}/dev-idp/slo\\?SAMLRequest=`));
      expect((await fetch(`${portal.url}/api/me`, { headers: { cookie: s.cookie } })).status).toBe(401);
      // The IdP answers the LogoutRequest (a signed LogoutResponse posted back) and the browser goes home.
      const idp = await fetch(redirect, { redirect: 'manual' });
      expect(idp.status).toBe(200);
      const answer = formOf(await idp.text());
      expect(answer.action).toBe(`${portal.url}/auth/saml/slo`);
      const back = await fetch(answer.action, {
        method: 'POST',
        body: new URLSearchParams(answer.fields),
        redirect: 'manual',
      });
      expect(back.status).toBe(302);
      expect(back.headers.get('location')).toBe('/');
    });

    it('all end when the IdP signs the person out (IdP-initiated single logout)', async () => {
      const first = await portal.signIn('student');
      const second = await portal.signIn('student');
      const other = await portal.signIn('instructor');
      const req = portal.idp.logoutRequest(account('student'));
      expect(req.action).toBe(`${portal.url}/auth/saml/slo`);
      const res = await fetch(req.action, {
        method: 'POST',
        body: new URLSearchParams({ SAMLRequest: req.SAMLRequest }),
        redirect: 'manual',
      });
      // Answered with a LogoutResponse to the IdP.
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toMatch(new RegExp(`^${portal.url}/dev-idp/slo\\?SAMLResponse=`));
      for (const s of [first, second]) {
        expect((await fetch(`${portal.url}/api/me`, { headers: { cookie: s.cookie } })).status).toBe(401);
      }
      expect((await fetch(`${portal.url}/api/me`, { headers: { cookie: other.cookie } })).status).toBe(200);
    });

    it('end after SESSION_MAX_HOURS however busy', async () => {
      const s = await portal.signIn('student');
      const sid = decodeURIComponent(s.cookie.split('=')[1]).slice(2).split('.')[0];
      const key = `${portal.config.deployment}:sess:${sid}`;
      const redis = portal.app.get((await import('../../api/src/platform/redis/redis.service')).RedisService).client;
      const data = JSON.parse((await redis.get(key))!);
      data.signedInAt = Date.now() - 2 * 3_600_000;
      await redis.set(key, JSON.stringify(data), 'EX', 600);
      expect((await fetch(`${portal.url}/api/me`, { headers: { cookie: s.cookie } })).status).toBe(401);
    });
  });

  it('limits sign-in attempts per address', async () => {
    const limited = await startSsoPortal({ DATABASE_URL: db.url, RUN_WORKERS: 'false', SIGN_IN_RATE_PER_MINUTE: '3' });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 5; i++)
        codes.push((await fetch(`${limited.url}/auth/saml/login`, { redirect: 'manual' })).status);
      expect(codes).toEqual([302, 302, 302, 429, 429]);
    } finally {
      await limited.close();
    }
  });

  it('reads the IdP from its metadata URL, and accepts either certificate during a key rollover', async () => {
    const rogue = await ensureKeyPair(mkdtempSync(join(tmpdir(), 'riglab-next-')), 'next', 'next IdP key');
    const fromUrl = await startSsoPortal({
      DATABASE_URL: db.url,
      RUN_WORKERS: 'false',
      DEV_IDP: 'false',
      SAML_IDP_METADATA_URL: `${portal.url}/dev-idp/metadata`,
    });
    try {
      expect((await startSignIn(fromUrl.url)).startsWith(`${portal.url}/dev-idp/sso?SAMLRequest=`)).toBe(true);
    } finally {
      await fromUrl.close();
    }
    // Explicit settings with the current and the next certificate: a response signed with either signs in.
    const certs = [portal.idp.keys.cert, rogue.cert].map((c) => c.replace(/-----[A-Z ]+-----|\s/g, '')).join(',');
    const rolling = await startSsoPortal({
      DATABASE_URL: db.url,
      RUN_WORKERS: 'false',
      SAML_IDP_ENTITY_ID: portal.idp.entityId,
      SAML_IDP_SSO_URL: `${portal.url}/dev-idp/sso`,
      SAML_IDP_CERT: certs,
    });
    try {
      // The same IdP (entity id, keys), now answering the rolling portal; it signs with either key.
      const idp = await DevIdentityProvider.create(`${portal.url}/dev-idp`, TEST_SAML_KEYS);
      idp.trust(await (await fetch(`${rolling.url}/auth/saml/metadata`)).text());
      for (const signer of [portal.idp.keys, rogue]) {
        const to = new URL(await startSignIn(rolling.url));
        const { id } = await idp.parseRequest(Object.fromEntries(to.searchParams));
        const response = await idp.loginResponse(id, account('student'), { signer });
        const res = await fetch(`${rolling.url}/auth/saml/acs`, {
          method: 'POST',
          body: new URLSearchParams({ SAMLResponse: response }),
          redirect: 'manual',
        });
        expect(res.status).toBe(303);
      }
    } finally {
      await rolling.close();
    }
  });

  it('accepts the answer on another portal process than the one that started the sign-in, once', async () => {
    // Two processes behind one public URL share Postgres and Redis (the request cache lives there).
    const shared = {
      DATABASE_URL: db.url,
      RUN_WORKERS: 'false',
      DEV_IDP: 'false',
      PUBLIC_URL: portal.url,
      DEPLOYMENT_ID: portal.config.deployment,
      SESSION_SECRET: portal.config.sessionSecret,
      SAML_IDP_METADATA_URL: `${portal.url}/dev-idp/metadata`,
    };
    const second = await startSsoPortal(shared);
    try {
      const response = await portal.idp.loginResponse(await requestId(), account('student'));
      const accepted = await fetch(`${second.url}/auth/saml/acs`, {
        method: 'POST',
        body: new URLSearchParams({ SAMLResponse: response }),
        redirect: 'manual',
      });
      expect(accepted.status).toBe(303);
      // The session it started is valid on the first process too (sessions live in Redis).
      const cookie = accepted.headers.get('set-cookie')!.split(';')[0];
      expect((await fetch(`${portal.url}/api/me`, { headers: { cookie } })).status).toBe(200);
      // And the same response is not accepted again, on either process.
      expect((await post(response)).status).toBe(403);
    } finally {
      await second.close();
    }
  });

  it('trusts an IdP configured from its metadata file, as a university IdP is', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'riglab-idp-meta-'));
    writeFileSync(join(dir, 'idp.xml'), portal.idp.metadata());
    // A second portal, with no development IdP of its own, pointed at the first one's IdP.
    const sp = await startSsoPortal({
      DATABASE_URL: db.url,
      RUN_WORKERS: 'false',
      DEV_IDP: 'false',
      SAML_IDP_METADATA_FILE: join(dir, 'idp.xml'),
    });
    try {
      const cfg = await (await fetch(`${sp.url}/api/auth/config`)).json();
      expect(cfg).toMatchObject({ sso: { enabled: true, loginUrl: '/auth/saml/login' }, devIdp: { enabled: false } });
      const to = await startSignIn(sp.url);
      expect(to.startsWith(`${portal.url}/dev-idp/sso?SAMLRequest=`)).toBe(true);
    } finally {
      await sp.close();
    }
  });
});
