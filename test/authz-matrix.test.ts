import { ModulesContainer } from '@nestjs/core';
import request from 'supertest';
import { TokensService } from '../api/src/modules/auth/tokens.service';
import { listRoutes, routesWithoutPolicy } from '../api/src/modules/auth/route-policy';
import { Enrollment } from '../api/src/modules/courses/course.entity';
import { User } from '../api/src/modules/users/user.entity';
import { courseWorld, Who } from './courses/support';
import { newTemplate } from './support/labs';

/**
 * Who may call what: every API route, for each kind of caller, with the status they get. Callers use
 * Bearer tokens carrying every scope their campus role allows (scopesFor), so what is tested here is
 * roles; a few rows at the end show that a token lacking a scope is refused too.
 * "ok" means the route let the caller through (not 401/403); where a route's own answer does not
 * depend on the caller's rights (a launch queued or refused for capacity, say), that is all it claims.
 */

type Caller = 'anon' | Who;
type Expect = number | 'ok';
const CALLERS: Caller[] = ['anon', 'student', 'other', 'ta', 'instructor', 'staff', 'admin'];

interface Row {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** The route as declared, e.g. `/api/courses/:courseId`. */
  route: string;
  body?: (who: Caller) => object;
  /** Run before each caller's request (puts back what an earlier caller changed). */
  before?: () => Promise<void>;
  expect: [anon: Expect, student: Expect, other: Expect, ta: Expect, instructor: Expect, staff: Expect, admin: Expect];
}

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

const signedIn = (s: Expect): Row['expect'] => [401, s, s, s, s, s, s];
const adminOnly = (s: Expect): Row['expect'] => [401, 403, 403, 403, 403, 403, s];

describe('authorization matrix', () => {
  const w = courseWorld();
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    const template = await newTemplate(w.db.ds, w.course, { slug: 'matrix', image: 'x' });
    ids.templateId = template.id;
    const [version] = await w.db.ds.query(`SELECT id FROM lab_template_versions WHERE template_id = $1`, [template.id]);
    const [lab] = await w.db.ds.query(
      `INSERT INTO lab_sessions (user_id, course_id, template_version_id, name, state, stopped_at)
       VALUES ($1, $2, $3, 'matrix', 'stopped', now()) RETURNING id`,
      [w.users.student.id, w.course.id, version.id],
    );
    ids.labId = lab.id;
  });

  const enrolled = async (username: string) => {
    const user =
      (await w.db.ds.getRepository(User).findOneBy({ username })) ??
      (await w.db.ds.getRepository(User).save({ username, displayName: username }));
    await w.db.ds
      .getRepository(Enrollment)
      .upsert({ userId: user.id, courseId: w.course.id, role: 'student' }, ['userId', 'courseId']);
  };

  const ROWS: Row[] = [
    // operations and sign-in
    { method: 'GET', route: '/api/health', expect: [200, 200, 200, 200, 200, 200, 200] },
    { method: 'GET', route: '/api/auth/config', expect: [200, 200, 200, 200, 200, 200, 200] },
    { method: 'POST', route: '/api/auth/sign-out', expect: ['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok'] },
    { method: 'GET', route: '/api/me', expect: signedIn(200) },
    // tokens: everyone manages their own
    { method: 'GET', route: '/api/tokens', expect: signedIn(200) },
    { method: 'POST', route: '/api/tokens', body: () => ({ name: 'matrix', scopes: ['read'] }), expect: signedIn(201) },
    { method: 'DELETE', route: '/api/tokens/:id', expect: signedIn(404) },
    // rigs: campus IT only
    { method: 'GET', route: '/api/rigs', expect: adminOnly(200) },
    { method: 'POST', route: '/api/rigs', body: () => ({}), expect: adminOnly(400) },
    { method: 'DELETE', route: '/api/rigs/:name', expect: adminOnly(404) },
    { method: 'POST', route: '/api/rigs/:name/state', body: () => ({}), expect: adminOnly(400) },
    { method: 'GET', route: '/api/rigs/:name/events', expect: adminOnly(404) },
    { method: 'GET', route: '/api/rigs/:name/telemetry', expect: adminOnly(404) },
    { method: 'GET', route: '/api/rigs/reliability', expect: adminOnly(200) },
    { method: 'POST', route: '/api/rigs/:name/burn-in', body: () => ({}), expect: adminOnly(404) },
    { method: 'GET', route: '/api/rigs/:name/burn-in', expect: adminOnly(404) },
    { method: 'GET', route: '/api/rigs/burn-in/latest', expect: adminOnly(200) },
    { method: 'GET', route: '/api/rigs/:name', expect: adminOnly(404) },
    { method: 'GET', route: '/api/rigs/:name/audit', expect: adminOnly(404) },
    { method: 'POST', route: '/api/rigs/:name/inventory', body: () => ({}), expect: adminOnly(404) },
    // the usage ledger: campus IT only
    { method: 'GET', route: '/api/ledger', expect: adminOnly(200) },
    { method: 'GET', route: '/api/ledger/verify', expect: adminOnly(200) },
    { method: 'GET', route: '/api/ledger/export', expect: adminOnly(200) },
    { method: 'POST', route: '/api/ledger/adjustments', body: () => ({}), expect: adminOnly(400) },
    // labs: one's own; launching needs membership of the template's course
    { method: 'GET', route: '/api/labs', expect: signedIn(200) },
    { method: 'GET', route: '/api/labs/launchable', expect: signedIn(200) },
    {
      method: 'POST',
      route: '/api/labs',
      body: () => ({ templateId: ids.templateId }),
      expect: [401, 'ok', 403, 'ok', 'ok', 403, 'ok'],
    },
    { method: 'GET', route: '/api/labs/:id', expect: [401, 200, 404, 404, 404, 404, 200] },
    { method: 'GET', route: '/api/labs/:id/progress', expect: [401, 200, 404, 404, 404, 404, 200] },
    { method: 'DELETE', route: '/api/labs/:id', expect: [401, 202, 404, 404, 404, 404, 202] },
    // courses
    { method: 'GET', route: '/api/courses', expect: signedIn(200) },
    {
      method: 'POST',
      route: '/api/courses',
      body: (who) => ({ code: `M-${who}`, term: '2026F', title: 'matrix' }),
      expect: [401, 403, 403, 403, 201, 201, 201],
    },
    { method: 'GET', route: '/api/courses/:courseId', expect: [401, 200, 403, 200, 200, 403, 200] },
    {
      method: 'PATCH',
      route: '/api/courses/:courseId',
      body: () => ({ title: 'CS101 test course' }),
      expect: [401, 403, 403, 403, 200, 403, 200],
    },
    { method: 'GET', route: '/api/courses/:courseId/members', expect: [401, 403, 403, 200, 200, 403, 200] },
    {
      method: 'PUT',
      route: '/api/courses/:courseId/members/:username',
      body: () => ({ role: 'student' }),
      expect: [401, 403, 403, 403, 200, 403, 200],
    },
    {
      method: 'DELETE',
      route: '/api/courses/:courseId/members/:username',
      before: () => enrolled('victim'),
      expect: [401, 403, 403, 403, 204, 403, 204],
    },
    {
      method: 'POST',
      route: '/api/courses/:courseId/roster/import',
      body: () => ({ csv: 'username,role\nsam,student\n', dryRun: true }),
      expect: [401, 403, 403, 403, 200, 403, 200],
    },
    { method: 'GET', route: '/api/courses/:courseId/labs', expect: [401, 403, 403, 200, 200, 403, 200] },
    // lab templates: instructors write, TAs read (students launch through /api/labs)
    { method: 'GET', route: '/api/courses/:courseId/templates', expect: [401, 403, 403, 200, 200, 403, 200] },
    {
      method: 'POST',
      route: '/api/courses/:courseId/templates',
      body: (who) => ({ slug: `m-${who}`, title: 'matrix', image: 'x', cpus: 1, memoryMb: 512 }),
      expect: [401, 403, 403, 403, 201, 403, 201],
    },
    {
      method: 'GET',
      route: '/api/courses/:courseId/templates/:templateId',
      expect: [401, 403, 403, 200, 200, 403, 200],
    },
    {
      method: 'PATCH',
      route: '/api/courses/:courseId/templates/:templateId',
      body: () => ({ memoryMb: 512 }),
      expect: [401, 403, 403, 403, 200, 403, 200],
    },
    {
      method: 'POST',
      route: '/api/courses/:courseId/templates/:templateId/unpublish',
      expect: [401, 403, 403, 403, 200, 403, 200],
    },
    {
      method: 'POST',
      route: '/api/courses/:courseId/templates/:templateId/publish',
      body: () => ({}),
      expect: [401, 403, 403, 403, 200, 403, 200],
    },
    {
      // a JSON body is no archive: 415 shows the caller got past the guard
      method: 'PUT',
      route: '/api/courses/:courseId/templates/:templateId/starter',
      body: () => ({}),
      expect: [401, 403, 403, 403, 415, 403, 415],
    },
    {
      method: 'GET',
      route: '/api/courses/:courseId/templates/:templateId/preview',
      expect: [401, 403, 403, 200, 200, 403, 200],
    },
    // quotas and usage: students see their own; staff of the course see the course; campus IT all
    { method: 'GET', route: '/api/me/usage', expect: signedIn(200) },
    { method: 'GET', route: '/api/courses/:courseId/quota', expect: [401, 403, 403, 200, 200, 403, 200] },
    {
      method: 'PUT',
      route: '/api/courses/:courseId/quota',
      body: () => ({ tightening: { maxConcurrentLabs: 2 } }),
      expect: [401, 403, 403, 403, 200, 403, 200],
    },
    {
      // the ceiling is campus IT's: an instructor passes the guard but is refused by the rule
      method: 'PUT',
      route: '/api/courses/:courseId/quota',
      body: () => ({ ceiling: { maxConcurrentLabs: 3 } }),
      expect: [401, 403, 403, 403, 403, 403, 200],
    },
    { method: 'GET', route: '/api/courses/:courseId/usage', expect: [401, 403, 403, 200, 200, 403, 200] },
    { method: 'GET', route: '/api/usage/courses', expect: adminOnly(200) },
    // last: archiving changes what the rows above would see
    { method: 'POST', route: '/api/courses/:courseId/archive', expect: [401, 403, 403, 403, 200, 403, 200] },
    { method: 'POST', route: '/api/courses/:courseId/unarchive', expect: [401, 403, 403, 403, 200, 403, 200] },
  ];

  const concrete = (route: string) =>
    route
      .replace(':courseId', w.course.id)
      .replace(':templateId', ids.templateId)
      .replace(':username', 'victim')
      .replace('/api/labs/:id', `/api/labs/${ids.labId}`)
      .replace('/api/tokens/:id', `/api/tokens/${UNKNOWN}`)
      .replace(':name', 'no-such-rig');

  const send = (method: Row['method'], path: string, token: string | null, body?: object) => {
    const agent = request(w.portal.url);
    const t = { GET: agent.get, POST: agent.post, PUT: agent.put, PATCH: agent.patch, DELETE: agent.delete }[
      method
    ].call(agent, path);
    if (token) t.set('Authorization', `Bearer ${token}`);
    return body ? t.send(body) : t;
  };

  it('has a row for every API route the portal serves, and every route declares a policy', () => {
    const routes = listRoutes(w.portal.app.get(ModulesContainer));
    expect(routesWithoutPolicy(routes)).toEqual([]);
    const covered = new Set(ROWS.map((r) => `${r.method} ${r.route}`));
    const missing = routes
      .filter((r) => r.path.startsWith('/api/') && !covered.has(`${r.method} ${r.path}`))
      .map((r) => `${r.method} ${r.path} (${r.handler})`);
    expect(missing).toEqual([]);
    // Outside /api only public pages (SAML endpoints, metrics) are served.
    expect(routes.filter((r) => !r.path.startsWith('/api/') && !r.public)).toEqual([]);
  });

  describe.each(ROWS.map((r) => [`${r.method} ${r.route}`, r] as const))('%s', (_name, row) => {
    it.each(CALLERS.map((c, i) => [c, row.expect[i]] as const))('as %s → %s', async (who, expected) => {
      await row.before?.();
      const res = await send(row.method, concrete(row.route), who === 'anon' ? null : w.tokens[who], row.body?.(who));
      // The message rides along so a failure shows why the portal answered as it did.
      const got = { status: res.status, message: res.body?.message };
      if (expected === 'ok') expect([401, 403]).not.toContain(got.status);
      else expect(got).toMatchObject({ status: expected });
    });
  });

  describe('tokens lacking a scope', () => {
    const cases: Array<[string, Who, string[], Row['method'], string, object | undefined, string]> = [
      ['an admin read-only token cannot add rigs', 'admin', ['read'], 'POST', '/api/rigs', {}, 'rigs:admin'],
      [
        'an admin read-only token cannot adjust the ledger',
        'admin',
        ['read'],
        'POST',
        '/api/ledger/adjustments',
        { username: 'sam', course: 'CS101:2026F', gpuMinutes: 5, reason: 'read-only' },
        'admin',
      ],
      [
        'an admin courses:admin token cannot list rigs',
        'admin',
        ['courses:admin'],
        'GET',
        '/api/rigs',
        undefined,
        'read or rigs:admin',
      ],
      [
        'an instructor read-only token cannot edit the course',
        'instructor',
        ['read'],
        'PATCH',
        '/api/courses/:courseId',
        { title: 'x' },
        'courses:admin',
      ],
      [
        'an instructor read-only token cannot change the roster',
        'instructor',
        ['read'],
        'PUT',
        '/api/courses/:courseId/members/:username',
        { role: 'ta' },
        'courses:admin',
      ],
      ['a student read-only token cannot launch', 'student', ['read'], 'POST', '/api/labs', {}, 'labs'],
      [
        'a student labs-only token cannot read courses',
        'student',
        ['labs'],
        'GET',
        '/api/courses/:courseId',
        undefined,
        'read',
      ],
    ];
    it.each(cases)('%s', async (_name, who, scopes, method, route, body, lacking) => {
      const { token } = await w.portal.app.get(TokensService).create(w.users[who], { scopes });
      const res = await send(method, concrete(route), token, body);
      expect([res.status, res.body.message]).toEqual([403, `this token lacks the scope ${lacking}`]);
    });
  });
});
