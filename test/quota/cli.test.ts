import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { migratedDatabase } from '../support/app';
import { enroll, newCourse, newUser } from '../support/labs';
import { env, ROOT } from '../support/services';

const BIN = join(ROOT, 'api', 'bin', 'riglab.js');

describe('riglab quota and usage', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let cliEnv: NodeJS.ProcessEnv;
  const riglab = (...args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, ...args], { env: cliEnv, encoding: 'utf8', timeout: 30_000 });
    return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
  };

  beforeAll(async () => {
    db = await migratedDatabase();
    cliEnv = {
      PATH: process.env.PATH,
      RIGLAB_ENV_FILE: '',
      DATABASE_URL: db.url,
      REDIS_URL: env.redisUrl,
      SESSION_SECRET: 'y'.repeat(40),
    };
    const course = await newCourse(db.ds, 'ML500');
    await enroll(db.ds, await newUser(db.ds, 'ada'), course);
  });
  afterAll(() => db.drop());

  it('sets a ceiling as campus IT, shows it, and refuses nonsense with exit 2', async () => {
    const set = riglab(
      'quota',
      'set',
      '--course',
      'ML500:2026F',
      '--gpu-minutes',
      '45',
      '--pool',
      'none',
      '--rate',
      'RTX 3060=2',
    );
    expect(set).toMatchObject({ code: 0, err: '' });
    expect(set.out).toMatch(/45 GPU-minutes .* per student per week/);
    const shown = JSON.parse(riglab('quota', 'show', '--course', 'ML500:2026F', '--json').out);
    expect(shown.effective).toMatchObject({
      gpuMinutesPerWeek: 45,
      coursePoolGpuMinutesPerWeek: null,
      gpuRates: { 'RTX 3060': 2 },
    });
    expect(riglab('quota', 'show', '--course', 'ML500:2026F').out).toMatch(/gpuMinutesPerWeek\s+45\s+-\s+45/);
    const [audit] = await db.ds.query(`SELECT actor FROM audit_events WHERE action = 'course.quota.update'`);
    expect(audit.actor).toBe('cli');

    expect(riglab('quota', 'set', '--course', 'ML500:2026F', '--gpu-minutes', 'lots')).toMatchObject({ code: 2 });
    const slice = riglab('quota', 'set', '--course', 'ML500:2026F', '--slice-minutes', '0');
    expect(slice.code).toBe(2);
    expect(slice.err).toMatch(/sliceMinutes must be between/);
    expect(riglab('quota', 'show', '--course', 'NOPE:1')).toMatchObject({ code: 1 });
    expect(JSON.parse(riglab('quota', 'show', '--course', 'ML500:2026F', '--json').out).effective.sliceMinutes).toBe(
      60,
    );
  });

  it("prints this week's usage per course and per student", () => {
    expect(riglab('usage').out).toMatch(/ML500:2026F\s+1\s+0\s+0\s+no pool\s+0\s+0/);
    expect(riglab('usage', '--course', 'ML500:2026F').out).toMatch(/ada\s+0\s+45\s+0/);
  });
});
