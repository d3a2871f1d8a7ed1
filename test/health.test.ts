import request from 'supertest';
import { RigsService } from '../api/src/modules/rigs/rigs.service';
import { migratedDatabase, startPortal, testConfig, TestPortal } from './support/app';
import { Client } from 'pg';
import { env, OwnEngine, OwnRedis } from './support/services';

type Health = {
  status: string;
  checks: {
    database: { status: string };
    redis: { status: string; error?: string };
    rigs: Array<{ name: string; status: string; error?: string; latencyMs: number }>;
  };
};

async function health(portal: TestPortal): Promise<{ code: number; body: Health }> {
  const res = await request(portal.url).get('/api/health');
  return { code: res.status, body: res.body as Health };
}

async function eventually<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last = await probe();
  while (!ok(last) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 250));
    last = await probe();
  }
  return last;
}

describe('GET /api/health', () => {
  const redis = new OwnRedis('health-test', 63795);
  const engine = new OwnEngine('health-rig', 'riglab9', '172.31.249.1/24');
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let portal: TestPortal;

  beforeAll(async () => {
    redis.start();
    engine.start();
    db = await migratedDatabase();
    portal = await startPortal(
      testConfig({ DATABASE_URL: db.url, REDIS_URL: redis.url, RIG_PROBE_TIMEOUT_MS: '1500' }),
    );
    // Active: only a rig in service that is down makes the portal "degraded".
    await portal.app.get(RigsService).add({ name: 'rig-b', endpoint: engine.endpoint, activate: 'health test rig' });
  });
  afterAll(async () => {
    await portal?.close();
    await db?.drop();
    redis.stop();
    engine.stop();
  });

  it('reports database, redis and each rig engine up, with latencies', async () => {
    const { code, body } = await health(portal);
    expect(code).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.checks.database.status).toBe('up');
    expect(body.checks.redis.status).toBe('up');
    expect(body.checks.rigs).toEqual([
      expect.objectContaining({ name: 'rig-b', status: 'up', latencyMs: expect.any(Number) }),
    ]);
  });

  it('reports a stopped Redis as down without crashing, and up again when it returns', async () => {
    redis.stop();
    const down = await eventually(
      () => health(portal),
      (h) => h.body.checks.redis.status === 'down',
    );
    expect(down.code).toBe(200);
    expect(down.body.status).toBe('degraded');
    expect(down.body.checks.redis.status).toBe('down');
    expect(down.body.checks.database.status).toBe('up');
    // The portal still serves while Redis is away.
    expect((await request(portal.url).get('/metrics')).status).toBe(200);

    redis.start();
    const back = await eventually(
      () => health(portal),
      (h) => h.body.checks.redis.status === 'up',
    );
    expect(back.body.status).toBe('ok');
  });

  it('reports a stopped Docker engine as down with a reason, and up again when it returns', async () => {
    engine.stop();
    const down = await eventually(
      () => health(portal),
      (h) => h.body.checks.rigs[0]?.status === 'down',
    );
    expect(down.code).toBe(200);
    expect(down.body.status).toBe('degraded');
    expect(down.body.checks.rigs[0].error).toMatch(/socket not found|connection refused/);

    engine.start();
    const back = await eventually(
      () => health(portal),
      (h) => h.body.checks.rigs[0]?.status === 'up',
    );
    expect(back.body.status).toBe('ok');
  });

  it('answers 503 when the database is unreachable', async () => {
    const other = await startPortal(testConfig({ DATABASE_URL: db.url, REDIS_URL: redis.url, RUN_WORKERS: 'false' }));
    const admin = new Client({ connectionString: env.pgAdminUrl });
    await admin.connect();
    const name = db.url.split('/').pop();
    const cutOff = async (allow: boolean) => {
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS ${allow}`);
      if (!allow)
        await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [name]);
    };
    try {
      await cutOff(false);
      const res = await eventually(
        () => health(other),
        (h) => h.code === 503,
      );
      expect(res.code).toBe(503);
      expect(res.body.status).toBe('down');
      expect(res.body.checks.database.status).toBe('down');
      await cutOff(true);
      const back = await eventually(
        () => health(other),
        (h) => h.code === 200,
      );
      expect(back.body.checks.database.status).toBe('up');
    } finally {
      await cutOff(true);
      await admin.end();
      await other.close();
    }
  });
});
