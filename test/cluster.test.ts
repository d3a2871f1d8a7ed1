import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort, migratedDatabase } from './support/app';
import { until } from './support/labs';
import { env, ROOT } from './support/services';

// The portal as `npm start` runs it (dist/), with PORTAL_PROCESSES=2: two processes share the port.

const MAIN = join(ROOT, 'dist', 'api', 'src', 'main.js');

const children = (pid: number): number[] => {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
};

describe('several portal processes (PORTAL_PROCESSES)', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let portal: ChildProcess;
  let url: string;

  beforeAll(async () => {
    db = await migratedDatabase();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    portal = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH,
        RIGLAB_ENV_FILE: '',
        HOST: '127.0.0.1',
        PORT: String(port),
        DATABASE_URL: db.url,
        REDIS_URL: env.redisUrl,
        SESSION_SECRET: 'z'.repeat(40),
        LOG_LEVEL: 'warn',
        DEPLOYMENT_ID: `cl${process.pid}`,
        PORTAL_PROCESSES: '2',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const up = await until(
      () =>
        fetch(`${url}/api/health`).then(
          (r) => r.status,
          () => 0,
        ),
      (s) => s === 200,
      30_000,
      200,
    );
    expect(up).toBe(200);
  });
  afterAll(async () => {
    if (portal.exitCode === null) portal.kill('SIGKILL');
    await db?.drop();
  });

  it('serve on one port from two processes, with one set of metrics for all of them', async () => {
    expect(children(portal.pid!)).toHaveLength(2);
    for (let i = 0; i < 12; i++) expect((await fetch(`${url}/api/health`)).status).toBe(200);
    // Requests landed on both processes; the scrape, whichever process answers it, counts them all.
    const scrape = async () => (await fetch(`${url}/metrics`)).text();
    const count = (text: string) =>
      Number(
        /^riglab_request_duration_seconds_count\{method="GET",handler="\/api\/health",code="200"\} (\d+)/m.exec(
          text,
        )?.[1],
      );
    const counts = [count(await scrape()), count(await scrape()), count(await scrape())];
    expect(counts.every((c) => c >= 13)).toBe(true);
    // Values read from Postgres are reported once, not once per process.
    expect(await scrape()).toMatch(/^riglab_total_users 0$/m);
  });

  it('start a process again when one dies, and stop them all on SIGTERM', async () => {
    const [victim] = children(portal.pid!);
    process.kill(victim, 'SIGKILL');
    const restarted = await until(
      async () => children(portal.pid!),
      (c) => c.length === 2 && !c.includes(victim),
      30_000,
      200,
    );
    expect(restarted).toHaveLength(2);
    expect(restarted).not.toContain(victim);
    expect((await fetch(`${url}/api/health`)).status).toBe(200);
    const all = children(portal.pid!);
    portal.kill('SIGTERM');
    expect(
      await until(
        async () => portal.exitCode,
        (c) => c === 0,
        30_000,
        200,
      ),
    ).toBe(0);
    expect(all.filter((pid) => children(portal.pid!).includes(pid) || exists(pid))).toEqual([]);
  });
});

function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
