import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import request from 'supertest';
import { emptyDatabase, env, ROOT } from './support/services';
import { startPortal, testConfig, TestPortal } from './support/app';

const BIN = join(ROOT, 'api', 'bin', 'riglab.js');

describe('riglab CLI', () => {
  let db: Awaited<ReturnType<typeof emptyDatabase>>;
  let cliEnv: NodeJS.ProcessEnv;

  function riglab(...args: string[]) {
    const r = spawnSync(process.execPath, [BIN, ...args], { env: cliEnv, encoding: 'utf8', timeout: 30_000 });
    return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
  }

  beforeAll(async () => {
    db = await emptyDatabase();
    cliEnv = {
      PATH: process.env.PATH,
      RIGLAB_ENV_FILE: '',
      DATABASE_URL: db.url,
      REDIS_URL: env.redisUrl,
      SESSION_SECRET: 'y'.repeat(40),
    };
  });
  afterAll(() => db.drop());

  it('migrates an empty database, and says so when there is nothing left to do', () => {
    expect(riglab('migrate')).toMatchObject({
      code: 0,
      out: 'applied 13 migration(s): Initial1764201600000, LabSessionRuntime1764288000000, SsoIdentity1764374400000, TemplateAuthoring1764460800000, LedgerChain1764547200000, Quotas1764633600000, RigLifecycle1764720000000, RigTelemetry1764806400000, BurnIn1764892800000, RigReliability1764979200000, RigInventory1765065600000, RollupsPerBucket1765152000000, ForgetEndedLabTokens1765238400000',
    });
    expect(riglab('migrate')).toMatchObject({ code: 0, out: 'database schema is up to date' });
  });

  it('adds and lists users', () => {
    expect(
      riglab('user', 'add', 'grace', '--role', 'admin', '--name', 'Grace H', '--email', 'grace@uni.example'),
    ).toMatchObject({ code: 0, out: 'added user grace (admin)' });
    expect(riglab('user', 'add', 'alan')).toMatchObject({ code: 0, out: 'added user alan (student)' });
    const list = riglab('user', 'list', '--json');
    expect(JSON.parse(list.out)).toEqual([
      expect.objectContaining({ username: 'alan', role: 'student' }),
      expect.objectContaining({ username: 'grace', role: 'admin', name: 'Grace H', email: 'grace@uni.example' }),
    ]);
    expect(riglab('user', 'list').out.split('\n')[0]).toMatch(/^USERNAME\s+NAME\s+EMAIL\s+ROLE/);
  });

  it('creates a token that the portal accepts, then revokes it', async () => {
    const created = riglab('token', 'create', '--user', 'grace', '--expires', '1d');
    expect(created.code).toBe(0);
    expect(created.out).toMatch(/^rgl_[A-Za-z0-9_-]{43}$/);
    expect(created.err).toMatch(/token for grace \(scopes: admin; expires: /);

    let portal: TestPortal | undefined;
    try {
      portal = await startPortal(testConfig({ DATABASE_URL: db.url, RUN_WORKERS: 'false' }));
      const me = await request(portal.url).get('/api/me').set('Authorization', `Bearer ${created.out}`);
      expect(me.body).toMatchObject({ username: 'grace', campusRole: 'admin' });

      const listed = JSON.parse(riglab('token', 'list', '--user', 'grace', '--json').out);
      expect(listed).toHaveLength(1);
      expect(riglab('token', 'revoke', listed[0].id)).toMatchObject({ code: 0 });
      expect((await request(portal.url).get('/api/me').set('Authorization', `Bearer ${created.out}`)).status).toBe(401);
    } finally {
      await portal?.close();
    }
  });

  it('registers a rig, reports its engine, and removes it', () => {
    const added = riglab('rig', 'add', 'rig-01', '--endpoint', env.dockerHost, '--cpus', '4', '--memory-mb', '8192');
    expect(added.code).toBe(0);
    expect(added.out).toMatch(/^added rig rig-01 .* engine answers: Docker \d+/);
    const list = JSON.parse(riglab('rig', 'list', '--json').out);
    expect(list).toEqual([
      expect.objectContaining({ name: 'rig-01', cpus: 4, memoryMb: 8192, engine: expect.stringMatching(/^up /) }),
    ]);
    expect(riglab('rig', 'remove', 'rig-01')).toMatchObject({ code: 0, out: 'removed rig rig-01' });
    expect(JSON.parse(riglab('rig', 'list', '--json').out)).toEqual([]);
  });

  it('registers GPUs with their slots and lists their use', () => {
    expect(riglab('rig', 'add', 'rig-02', '--endpoint', env.dockerHost, '--driver', 'nvidia').code).toBe(0);
    const added = riglab(
      'gpu',
      'add',
      'rig-02',
      '--index',
      '0',
      '--model',
      'GTX 1070',
      '--vram-mb',
      '8192',
      '--device',
      'GPU-3f1c',
      '--slots',
      '2',
    );
    expect(added).toMatchObject({
      code: 0,
      out: 'added GPU 0 (GTX 1070, 8192 MiB, nvidia) to rig rig-02 with 2 slot(s)',
    });
    expect(JSON.parse(riglab('gpu', 'list', '--json').out)).toEqual([
      {
        rig: 'rig-02',
        index: 0,
        model: 'GTX 1070',
        vramMb: 8192,
        driver: 'nvidia',
        devices: ['GPU-3f1c'],
        slots: '0/2',
        healthy: true,
      },
    ]);
    const again = riglab(
      'gpu',
      'add',
      'rig-02',
      '--index',
      '0',
      '--model',
      'GTX 1070',
      '--vram-mb',
      '8192',
      '--device',
      '1',
    );
    expect([again.code, again.err]).toEqual([1, "riglab: error: rig 'rig-02' already has a GPU with index 0"]);
    const bad = riglab(
      'gpu',
      'add',
      'rig-02',
      '--index',
      '1',
      '--model',
      'RX 580',
      '--vram-mb',
      '100',
      '--device',
      '/dev/dri/renderD129',
      '--slots',
      '9',
    );
    expect([bad.code, bad.err]).toEqual([
      2,
      'riglab: error: GPU not added: VRAM must be at least 256 MiB; slots must be 1-8',
    ]);
    expect(riglab('rig', 'remove', 'rig-02').code).toBe(0);
  });

  it.each([
    [['token', 'create'], 2, /required option '--user <name>' not specified/],
    [['token', 'create', '--user', 'nobody'], 1, /error: user 'nobody' does not exist/],
    [['token', 'create', '--user', 'alan', '--expires', 'tomorrow'], 2, /expiry 'tomorrow' is not understood/],
    [['token', 'create', '--user', 'alan', '--scope', 'root'], 2, /unknown scope 'root'/],
    [['token', 'revoke', 'not-an-id'], 1, /no live token with id not-an-id/],
    [['user', 'add', 'Bad Name'], 2, /username 'Bad Name' is not allowed/],
    [['user', 'add', 'alan'], 1, /user 'alan' already exists/],
    [
      ['user', 'add', 'x', '--role', 'king'],
      2,
      /argument 'king' is invalid. Allowed choices are admin, staff, student/,
    ],
    [['rig', 'add', 'r2', '--endpoint', 'tcp://rig2:2376'], 2, /riglab never talks to a Docker engine over plain TCP/],
    [['rig', 'add', 'r2', '--endpoint', 'unix:///x.sock', '--cpus', 'many'], 2, /--cpus must be a whole number/],
    [
      ['rig', 'add', 'r2', '--endpoint', 'tcp://rig2:2376', '--tls-ca', 'ca.pem'],
      2,
      /give all three of --tls-ca, --tls-cert and --tls-key/,
    ],
    [['rig', 'remove', 'nope'], 1, /rig 'nope' does not exist/],
    [['frobnicate'], 2, /unknown command 'frobnicate'/],
  ])('refuses riglab %j with exit code %i and a clear message', (args, code, message) => {
    const r = riglab(...(args as string[]));
    expect(r.code).toBe(code);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/\n\s+at /); // no stack traces
  });

  it('names a bad configuration variable and exits 2', () => {
    const r = spawnSync(process.execPath, [BIN, 'user', 'list'], {
      env: { ...cliEnv, DATABASE_URL: 'mysql://nope' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/DATABASE_URL: must start with postgres:\/\//);
  });

  it('says the database is unreachable in plain words', () => {
    const r = spawnSync(process.execPath, [BIN, 'user', 'list'], {
      env: { ...cliEnv, DATABASE_URL: 'postgres://x:y@127.0.0.1:1/none' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cannot reach the database/);
  });
});
