import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { migratedDatabase } from '../support/app';
import { newCourse } from '../support/labs';
import { env, ROOT } from '../support/services';

const BIN = join(ROOT, 'api', 'bin', 'riglab.js');

describe('riglab template commands', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let cliEnv: NodeJS.ProcessEnv;
  // A copy inside course-templates/ (starter folders must be where the portal finds them at launch).
  const scratch = mkdtempSync(join(ROOT, 'course-templates', '.test-'));

  function riglab(...args: string[]) {
    const r = spawnSync(process.execPath, [BIN, ...args], { env: cliEnv, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
  }
  const versions = async () =>
    (await db.ds.query(`SELECT count(*)::int AS n FROM lab_template_versions`))[0].n as number;

  beforeAll(async () => {
    db = await migratedDatabase();
    await newCourse(db.ds, 'CS101', '2026F');
    cliEnv = {
      PATH: process.env.PATH,
      RIGLAB_ENV_FILE: '',
      DATABASE_URL: db.url,
      REDIS_URL: env.redisUrl,
      SESSION_SECRET: 'y'.repeat(40),
    };
  });
  afterAll(async () => {
    rmSync(scratch, { recursive: true, force: true });
    await db.drop();
  });

  it('imports a template with the image tag lab-image.sh gives its recipe; a second import changes nothing', async () => {
    const first = riglab('template', 'import', 'course-templates/python-basics', '--course', 'CS101:2026F');
    expect(first).toMatchObject({ code: 0 });
    // the same hash rule as infra/lab-image.sh: the tag the test image was built under
    expect(first.out).toBe(
      `imported 'python-basics' into CS101 2026F as version 1 (created); image ${process.env.RIGLAB_TEST_LAB_IMAGE}; not published (use --publish)`,
    );
    const published = riglab(
      'template',
      'import',
      'course-templates/python-basics',
      '--course',
      'CS101:2026F',
      '--publish',
    );
    expect(published.out).toMatch(
      /'python-basics' in CS101 2026F is unchanged \(version 1\); image .*; published version 1$/,
    );
    const before = await versions();
    const again = riglab(
      'template',
      'import',
      'course-templates/python-basics',
      '--course',
      'CS101:2026F',
      '--publish',
    );
    expect(again.out).toMatch(/is unchanged \(version 1\); image .*; published$/);
    expect(await versions()).toBe(before);
    const [row] = await db.ds.query(
      `SELECT t.title, t.published, t.current_version, v.starter_files, v.gpu_policy, v.created_by FROM lab_templates t JOIN lab_template_versions v ON v.template_id = t.id`,
    );
    expect(row).toEqual({
      title: 'Introduction to programming in Python',
      published: true,
      current_version: 1,
      starter_files: 'python-basics/starter',
      gpu_policy: { required: false },
      created_by: 'cli',
    });
  });

  it('writes a new version when the template changed, and lists and unpublishes', async () => {
    cpSync(join(ROOT, 'course-templates', 'ml-gpu'), join(scratch, 'ml'), { recursive: true });
    const dir = join(scratch, 'ml');
    const ml = riglab('template', 'import', dir, '--course', 'CS101:2026F', '--image', 'riglab/lab-ml-gpu:test');
    expect(ml.out).toMatch(/^imported 'ml-gpu' into CS101 2026F as version 1/);
    const file = JSON.parse(readFileSync(join(dir, 'template.json'), 'utf8'));
    writeFileSync(
      join(dir, 'template.json'),
      JSON.stringify({ ...file, resources: { ...file.resources, memoryMb: 6144 } }),
    );
    const edited = riglab('template', 'import', dir, '--course', 'CS101:2026F', '--image', 'riglab/lab-ml-gpu:test');
    expect(edited.out).toMatch(/^imported 'ml-gpu' into CS101 2026F as version 2 \(memoryMb\)/);
    const list = JSON.parse(riglab('template', 'list', '--course', 'CS101:2026F', '--json').out);
    expect(list).toEqual([
      expect.objectContaining({ slug: 'python-basics', published: true, current: 1, latest: 1 }),
      expect.objectContaining({
        slug: 'ml-gpu',
        published: false,
        current: 1,
        latest: 2,
        gpu: expect.stringMatching(/^a shared GPU slot with at least 4 GiB/),
      }),
    ]);
    expect(riglab('template', 'publish', 'ml-gpu', '--course', 'CS101:2026F').out).toBe(
      "'ml-gpu' in CS101 2026F is published at version 2",
    );
    expect(riglab('template', 'unpublish', 'python-basics', '--course', 'CS101:2026F').out).toBe(
      "'python-basics' in CS101 2026F is unpublished",
    );
    expect(riglab('template', 'list').out.split('\n')[0]).toMatch(
      /^COURSE\s+SLUG\s+TITLE\s+PUBLISHED\s+CURRENT\s+LATEST/,
    );
  });

  it('says what is wrong with a bad template file or command line, changing nothing', async () => {
    const before = await versions();
    const dir = join(scratch, 'bad');
    cpSync(join(ROOT, 'course-templates', 'python-basics'), dir, { recursive: true });
    writeFileSync(
      join(dir, 'template.json'),
      JSON.stringify({
        slug: 'bad',
        title: 'Bad',
        image: { recipe: 'image' },
        resources: { cpus: 0, memoryMb: 64 },
        env: { RIGLAB_X: '1' },
      }),
    );
    const bad = riglab('template', 'import', dir, '--course', 'CS101:2026F');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(
      'template.json is invalid: cpus: must be at least 0.1; memoryMb: must be at least 128; env.RIGLAB_X',
    );
    expect(riglab('template', 'import', dir, '--course', 'CS101')).toMatchObject({
      code: 2,
      err: expect.stringContaining('give the course as CODE:TERM'),
    });
    expect(riglab('template', 'publish', 'nope', '--course', 'CS101:2026F')).toMatchObject({
      code: 1,
      err: "riglab: error: course CS101 2026F has no template 'nope'",
    });
    expect(await versions()).toBe(before);
  });
});
