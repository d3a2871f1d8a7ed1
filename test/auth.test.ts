import request from 'supertest';
import { ApiToken } from '../api/src/modules/auth/api-token.entity';
import { TokensService } from '../api/src/modules/auth/tokens.service';
import { UsersService } from '../api/src/modules/users/users.service';
import { migratedDatabase, startPortal, testConfig, TestPortal } from './support/app';

describe('authentication', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let portal: TestPortal;
  let tokens: TokensService;

  beforeAll(async () => {
    db = await migratedDatabase();
    portal = await startPortal(testConfig({ DATABASE_URL: db.url, RUN_WORKERS: 'false' }));
    const users = portal.app.get(UsersService);
    await users.add({ username: 'ada', campusRole: 'student' });
    await users.add({ username: 'root', campusRole: 'admin' });
    tokens = portal.app.get(TokensService);
  });
  afterAll(async () => {
    await portal?.close();
    await db?.drop();
  });

  describe('API tokens', () => {
    it('authenticate GET /api/me as their user, and are stored only as a hash', async () => {
      const { token, record } = await tokens.create(await portal.app.get(UsersService).byUsername('ada'), {});
      const res = await request(portal.url).get('/api/me').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        username: 'ada',
        campusRole: 'student',
        authenticatedVia: 'token',
        scopes: ['read', 'labs'],
      });
      const stored = await db.ds.query(`SELECT * FROM api_tokens WHERE id = $1`, [record.id]);
      expect(JSON.stringify(stored)).not.toContain(token);
      expect(JSON.stringify(stored)).not.toContain(token.slice(12));
      const used = await db.ds.getRepository(ApiToken).findOneByOrFail({ id: record.id });
      expect(used.lastUsedAt).toBeInstanceOf(Date);
    });

    it('are refused once expired, with the reason', async () => {
      const { token, record } = await tokens.create(await portal.app.get(UsersService).byUsername('ada'), {
        expiresAt: new Date(Date.now() + 60_000),
      });
      expect((await request(portal.url).get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
      await db.ds.getRepository(ApiToken).update({ id: record.id }, { expiresAt: new Date(Date.now() - 1000) });
      const res = await request(portal.url).get('/api/me').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(401);
      expect(res.body.message).toBe('API token rejected: token has expired.');
    });

    it('are refused once revoked, and unknown or malformed ones too', async () => {
      const { token, record } = await tokens.create(await portal.app.get(UsersService).byUsername('ada'), {});
      await tokens.revoke(record.id);
      const revoked = await request(portal.url).get('/api/me').set('Authorization', `Bearer ${token}`);
      expect(revoked.body.message).toBe('API token rejected: token was revoked.');
      const unknown = await request(portal.url)
        .get('/api/me')
        .set('Authorization', `Bearer rgl_${'x'.repeat(43)}`);
      expect([unknown.status, unknown.body.message]).toEqual([401, 'API token rejected: unknown token.']);
      const foreign = await request(portal.url).get('/api/me').set('Authorization', 'Bearer abc');
      expect([foreign.status, foreign.body.message]).toEqual([401, 'API token rejected: not a riglab token.']);
    });

    it('carry scopes: a read-only token may not manage rigs, an admin token may', async () => {
      const root = await portal.app.get(UsersService).byUsername('root');
      const readOnly = await tokens.create(root, { scopes: ['read'] });
      const rigAdmin = await tokens.create(root, { scopes: ['rigs:admin'] });
      // Offline: no engine answers there, and the scope check must come before any connection test.
      const body = { name: 'rig-x', endpoint: 'unix:///tmp/nothing.sock', offline: true };
      const refused = await request(portal.url)
        .post('/api/rigs')
        .set('Authorization', `Bearer ${readOnly.token}`)
        .send(body);
      expect([refused.status, refused.body.message]).toEqual([403, 'this token lacks the scope rigs:admin']);
      const added = await request(portal.url)
        .post('/api/rigs')
        .set('Authorization', `Bearer ${rigAdmin.token}`)
        .send(body);
      expect(added.status).toBe(201);
      expect(added.body).toMatchObject({ name: 'rig-x', state: 'registered' });
    });

    it('are listed without their secret and revocable through the API', async () => {
      const { token } = await tokens.create(await portal.app.get(UsersService).byUsername('ada'), {});
      const auth = { Authorization: `Bearer ${token}` };
      const made = await request(portal.url)
        .post('/api/tokens')
        .set(auth)
        .send({ name: 'notebook sync', scopes: ['read'], expires: '7d' });
      expect(made.status).toBe(201);
      expect(made.body.token).toMatch(/^rgl_/);
      const list = await request(portal.url).get('/api/tokens').set(auth);
      expect(list.body.map((t: { name: string }) => t.name)).toContain('notebook sync');
      expect(JSON.stringify(list.body)).not.toContain(made.body.token);
      expect((await request(portal.url).delete(`/api/tokens/${made.body.id}`).set(auth)).status).toBe(204);
      expect((await request(portal.url).get('/api/me').set('Authorization', `Bearer ${made.body.token}`)).status).toBe(
        401,
      );
    });

    it("never carry more than their owner's role allows", async () => {
      const ada = await portal.app.get(UsersService).byUsername('ada');
      await expect(tokens.create(ada, { scopes: ['rigs:admin'] })).rejects.toThrow(
        'a student cannot hold a token with scope rigs:admin',
      );
    });

    it('refuse a wider token minted by a narrower one', async () => {
      const { token } = await tokens.create(await portal.app.get(UsersService).byUsername('ada'), {
        scopes: ['read', 'labs'],
      });
      const res = await request(portal.url)
        .post('/api/tokens')
        .set('Authorization', `Bearer ${token}`)
        .send({ scopes: ['admin'] });
      expect(res.status).toBe(403);
    });
  });

  describe('browser sessions', () => {
    it('are refused without sign-in, with a plain JSON answer', async () => {
      const res = await request(portal.url).get('/api/me');
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        code: 'auth.not_signed_in',
        message: 'Sign in first.',
        correlationId: expect.any(String),
      });
    });

    it('offer no SSO and no development IdP unless configured', async () => {
      expect((await request(portal.url).get('/api/auth/config')).body).toEqual({
        sso: { enabled: false, loginUrl: '/auth/saml/login', label: 'your university account' },
        devIdp: { enabled: false, accounts: [] },
      });
      expect((await request(portal.url).get('/dev-idp/sso')).status).toBe(404);
      const start = await request(portal.url).get('/auth/saml/login');
      expect(start.status).toBe(404);
      expect(start.text).toContain('SSO is not configured on this portal.');
    });
  });

  it('only admins reach the rigs API', async () => {
    const { token } = await tokens.create(await portal.app.get(UsersService).byUsername('ada'), {});
    const res = await request(portal.url).get('/api/rigs').set('Authorization', `Bearer ${token}`);
    expect([res.status, res.body.message]).toEqual([403, 'this needs the campus role admin']);
  });

  it("answers with a request id, and echoes a caller's sane one", async () => {
    const own = await request(portal.url).get('/api/health').set('X-Request-Id', 'trace-123');
    expect(own.headers['x-request-id']).toBe('trace-123');
    const made = await request(portal.url).get('/api/health').set('X-Request-Id', 'bad id with spaces');
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves Prometheus metrics with riglab_ names and request durations', async () => {
    await request(portal.url).get('/api/health');
    const res = await request(portal.url).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain;.*version=0\.0\.4/);
    expect(res.text).toMatch(/^riglab_process_cpu_seconds_total/m);
    expect(res.text).toMatch(
      /^riglab_request_duration_seconds_count\{method="GET",handler="\/api\/health",code="200"\} \d+/m,
    );
  });

  it('guards /metrics with METRICS_TOKEN when one is set', async () => {
    const guarded = await startPortal(
      testConfig({ DATABASE_URL: db.url, RUN_WORKERS: 'false', METRICS_TOKEN: 'scrape-me-0123456789' }),
    );
    try {
      const none = await request(guarded.url).get('/metrics');
      expect([none.status, none.body.message]).toEqual([401, 'This scrape needs the METRICS_TOKEN as a Bearer token.']);
      expect(
        (await request(guarded.url).get('/metrics').set('Authorization', 'Bearer wrong-token-0123456')).status,
      ).toBe(401);
      const ok = await request(guarded.url).get('/metrics').set('Authorization', 'Bearer scrape-me-0123456789');
      expect(ok.status).toBe(200);
      expect(ok.text).toMatch(/^riglab_process_cpu_seconds_total/m);
    } finally {
      await guarded.close();
    }
  });

  it('serves the OpenAPI document and its viewer', async () => {
    const doc = await request(portal.url).get('/api/docs/openapi.json');
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/api/health', '/api/me', '/api/rigs', '/api/tokens']),
    );
    const viewer = await request(portal.url).get('/api/docs');
    expect(viewer.text).toMatch(/swagger-ui/i);
  });
});
