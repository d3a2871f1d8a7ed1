import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migratedDatabase } from '../support/app';
import { env, ROOT } from '../support/services';

const BIN = join(ROOT, 'api', 'bin', 'riglab.js');

describe('riglab CLI: courses, members, rosters', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let cliEnv: NodeJS.ProcessEnv;
  const dir = mkdtempSync(join(tmpdir(), 'riglab-roster-'));

  function riglab(...args: string[]) {
    const r = spawnSync(process.execPath, [BIN, ...args], { env: cliEnv, encoding: 'utf8', timeout: 30_000 });
    return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
  }
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const audit = async () =>
    (await db.ds.query(`SELECT action, actor FROM audit_events ORDER BY id`)) as Array<{
      action: string;
      actor: string;
    }>;

  beforeAll(async () => {
    db = await migratedDatabase();
    cliEnv = {
      PATH: process.env.PATH,
      RIGLAB_ENV_FILE: '',
      DATABASE_URL: db.url,
      REDIS_URL: env.redisUrl,
      SESSION_SECRET: 'y'.repeat(40),
    };
  });
  afterAll(() => db.drop());

  it('adds, lists, archives and unarchives courses', async () => {
    const added = riglab('course', 'add', '--code', 'CS101', '--term', '2026F', '--title', 'Intro to programming');
    expect(added.code).toBe(0);
    expect(added.out).toMatch(/^added course CS101 2026F \(Intro to programming\); id [0-9a-f-]{36}$/);
    expect(riglab('course', 'list').out.split('\n')[0]).toMatch(/^CODE\s+TERM\s+TITLE\s+MEMBERS\s+ARCHIVED/);
    expect(riglab('course', 'archive', 'cs101', '2026f')).toMatchObject({
      code: 0,
      out: 'archived course CS101 2026F',
    });
    expect(JSON.parse(riglab('course', 'list', '--json').out)).toEqual([]);
    expect(JSON.parse(riglab('course', 'list', '--archived', '--json').out)).toEqual([
      expect.objectContaining({ code: 'CS101', term: '2026F', members: 0, archived: expect.any(String) }),
    ]);
    expect(riglab('course', 'unarchive', 'CS101', '2026F')).toMatchObject({
      code: 0,
      out: 'unarchived course CS101 2026F',
    });
    expect((await audit()).map((e) => `${e.action}/${e.actor}`)).toEqual([
      'course.create/cli',
      'course.archive/cli',
      'course.unarchive/cli',
    ]);
  });

  it('adds, re-roles and removes members, creating accounts for people who never signed in', async () => {
    expect(riglab('member', 'add', '--course', 'CS101:2026F', '--user', 'ada', '--role', 'ta')).toMatchObject({
      code: 0,
      out: 'ada is ta of CS101 2026F',
    });
    expect(riglab('member', 'add', '--course', 'CS101:2026F', '--user', 'ada')).toMatchObject({
      code: 0,
      out: 'ada is student of CS101 2026F',
    });
    const [user] = await db.ds.query(`SELECT campus_role FROM users WHERE username = 'ada'`);
    expect(user.campus_role).toBe('student');
    expect(riglab('member', 'remove', '--course', 'CS101:2026F', '--user', 'ada')).toMatchObject({
      code: 0,
      out: 'removed ada from CS101 2026F',
    });
  });

  it('previews and imports a roster file, all rows or none', async () => {
    const good = file('good.csv', 'username,role\nbob,student\ncarol,ta\n');
    const dry = riglab('roster', 'import', '--course', 'CS101:2026F', good, '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.out).toMatch(/bob\s+student\s+add/);
    expect(dry.out).toMatch(/dry run, nothing changed: 2 to add, 0 to change, 0 unchanged, 0 bad$/);
    expect(await db.ds.query(`SELECT 1 FROM users WHERE username = 'bob'`)).toEqual([]);

    const applied = riglab('roster', 'import', '--course', 'CS101:2026F', good);
    expect(applied.code).toBe(0);
    expect(applied.out).toMatch(/imported into CS101 2026F: 2 to add, 0 to change, 0 unchanged, 0 bad$/);

    const bad = file('bad.csv', 'dave,student\nerin,dean\n');
    const refused = riglab('roster', 'import', '--course', 'CS101:2026F', bad);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/^2\s+erin\s+dean\s+error\s+role 'dean' is not one of student, ta, instructor$/m);
    expect(refused.err).toBe(
      `riglab: error: ${bad} has 1 bad row(s); nothing was changed (1 to add, 0 to change, 0 unchanged, 1 bad)`,
    );
    expect(await db.ds.query(`SELECT 1 FROM users WHERE username = 'dave'`)).toEqual([]);
    expect(JSON.parse(riglab('course', 'list', '--json').out)[0].members).toBe(2);
  });

  it.each([
    [['course', 'add', '--code', 'CS101'], 2, /required option '--term <term>' not specified/],
    [
      ['course', 'add', '--code', 'CS101', '--term', '2026F', '--title', 'again'],
      1,
      /course CS101 2026F already exists/,
    ],
    [['course', 'add', '--code', 'CS 1', '--term', '2026F', '--title', 'x'], 2, /code 'CS 1' not allowed/],
    [['course', 'archive', 'NOPE', '2026F'], 1, /no course with code NOPE and term 2026F/],
    [
      ['member', 'add', '--course', 'CS101', '--user', 'ada'],
      2,
      /give the course as CODE:TERM, e.g. CS101:2026F \(got 'CS101'\)/,
    ],
    [['member', 'add', '--course', 'CS101:2026F', '--user', 'Bad Name'], 2, /username 'Bad Name' is not allowed/],
    [
      ['member', 'add', '--course', 'CS101:2026F', '--user', 'ada', '--role', 'dean'],
      2,
      /Allowed choices are student, ta, instructor/,
    ],
    [['member', 'remove', '--course', 'CS101:2026F', '--user', 'nobody'], 1, /nobody is not a member of CS101 2026F/],
    [
      ['roster', 'import', '--course', 'CS101:2026F', '/no/such/file.csv'],
      2,
      /cannot read \/no\/such\/file.csv: ENOENT/,
    ],
  ])('refuses riglab %j with exit code %i and a clear message', (args, code, message) => {
    const r = riglab(...(args as string[]));
    expect(r.code).toBe(code);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/\n\s+at /);
  });
});
