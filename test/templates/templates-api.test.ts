import { courseWorld, auditActions } from '../courses/support';
import { newCourse, newTemplate } from '../support/labs';
import { tarOf, zipOf, zipWithRawName } from './archives';

const base = (w: ReturnType<typeof courseWorld>) => `/api/courses/${w.course.id}/templates`;

const draft = {
  slug: 'intro',
  title: 'Introduction',
  description: 'first steps',
  image: 'riglab/lab-python-basics:0123456789ab',
  cpus: 1,
  memoryMb: 1024,
  gpu: { mode: 'none' },
  env: { COURSE_NAME: 'CS101' },
  starterFolder: 'python-basics/starter',
};

describe('lab templates through the API', () => {
  const w = courseWorld({ STARTER_MAX_FILES: '20', STARTER_MAX_BYTES: '100000', STARTER_UPLOAD_MAX_BYTES: '50000' });
  let id: string;

  const counts = async () => {
    const [r] = await w.db.ds.query(
      `SELECT (SELECT count(*)::int FROM lab_template_versions) AS versions, (SELECT count(*)::int FROM starter_archives) AS archives`,
    );
    return r as { versions: number; archives: number };
  };

  it('creates a template as version 1, unpublished, with its fields read back as written', async () => {
    const res = await w.as('instructor').post(base(w)).send(draft);
    expect(res.status).toBe(201);
    id = res.body.id;
    expect(res.body).toMatchObject({
      slug: 'intro',
      title: 'Introduction',
      published: false,
      currentVersion: 1,
      latestVersion: 1,
      created: true,
    });
    expect(res.body.versions).toHaveLength(1);
    expect(res.body.versions[0]).toMatchObject({
      version: 1,
      image: draft.image,
      cpus: 1,
      memoryMb: 1024,
      pids: 512,
      gpu: { mode: 'none', words: 'no GPU (CPU only)' },
      idleTimeoutMinutes: 30,
      maxSessionHours: 8,
      env: { COURSE_NAME: 'CS101' },
      starterFolder: 'python-basics/starter',
      createdBy: 'ines',
    });
    const again = await w.as('instructor').post(base(w)).send(draft);
    expect(again.status).toBe(409);
    expect(again.body.message).toBe("course CS101 2026F already has a template 'intro'");
  });

  it('refuses bad fields, naming each, and writes nothing', async () => {
    const before = await counts();
    const res = await w
      .as('instructor')
      .post(base(w))
      .send({
        ...draft,
        slug: 'Bad Slug',
        cpus: 0,
        gpu: { mode: 'shared' },
        env: { JUPYTER_TOKEN: 'x', 'lower-case': 'y' },
        starterFolder: '../etc',
        colour: 'red',
      });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('template.invalid');
    for (const part of [
      'slug: must be 1-63 characters',
      'cpus: must be at least 0.1',
      "gpu.minVramMb: is required with mode 'shared'",
      'env.JUPYTER_TOKEN: JUPYTER_* and RIGLAB_* are set by riglab itself',
      'env.lower-case: names are A-Z, 0-9 and _',
      'starterFolder: must be a folder under course-templates/',
      'unknown field(s): colour',
    ])
      expect(res.body.message).toContain(part);
    const missing = await w
      .as('instructor')
      .post(base(w))
      .send({ ...draft, slug: 'nofolder', starterFolder: 'python-basics/nope' });
    expect(missing.status).toBe(400);
    expect(missing.body.message).toBe('starterFolder: there is no folder course-templates/python-basics/nope');
    expect(await counts()).toEqual(before);
  });

  it('makes a new version on each edit that changes something, and none for one that does not', async () => {
    const edit = await w
      .as('instructor')
      .patch(`${base(w)}/${id}`)
      .send({ memoryMb: 2048, gpu: { mode: 'shared', minVramMb: 4096, models: ['GTX 1070'], allowCpuFallback: true } });
    expect(edit.status).toBe(200);
    expect(edit.body).toMatchObject({ created: true, latestVersion: 2, currentVersion: 1 });
    expect(edit.body.changed.sort()).toEqual(['gpuPolicy', 'memoryMb']);
    expect(edit.body.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    expect(edit.body.versions[0].gpu).toMatchObject({
      mode: 'shared',
      minVramMb: 4096,
      words:
        'a shared GPU slot with at least 4 GiB of GPU memory (models GTX 1070); when the GPU time slice ends the lab carries on without the GPU',
    });
    // version 1 is as it was: versions are immutable
    expect(edit.body.versions[1]).toMatchObject({ memoryMb: 1024, gpu: { mode: 'none' } });
    const same = await w
      .as('instructor')
      .patch(`${base(w)}/${id}`)
      .send({ memoryMb: 2048 });
    expect(same.body).toMatchObject({ created: false, changed: [], latestVersion: 2 });
    const title = await w
      .as('instructor')
      .patch(`${base(w)}/${id}`)
      .send({ title: 'Intro to Python' });
    expect(title.body).toMatchObject({
      created: false,
      changed: ['title'],
      latestVersion: 2,
      title: 'Intro to Python',
    });
    const slug = await w
      .as('instructor')
      .patch(`${base(w)}/${id}`)
      .send({ slug: 'other' });
    expect(slug.status).toBe(400);
    expect(slug.body.message).toContain('unknown field(s): slug');
  });

  it('publishes the latest version by default or a chosen one, and unpublishes', async () => {
    const launchable = async () =>
      (await w.as('student').get('/api/labs/launchable')).body.filter((t: { id: string }) => t.id === id);
    expect(await launchable()).toEqual([]);
    const pub = await w
      .as('instructor')
      .post(`${base(w)}/${id}/publish`)
      .send({});
    expect(pub.status).toBe(200);
    expect(pub.body).toMatchObject({ published: true, currentVersion: 2 });
    expect(await launchable()).toHaveLength(1);
    const v1 = await w
      .as('instructor')
      .post(`${base(w)}/${id}/publish`)
      .send({ version: 1 });
    expect(v1.body).toMatchObject({ published: true, currentVersion: 1 });
    const none = await w
      .as('instructor')
      .post(`${base(w)}/${id}/publish`)
      .send({ version: 9 });
    expect(none.status).toBe(404);
    expect(none.body.message).toBe("template 'intro' has no version 9");
    const bad = await w
      .as('instructor')
      .post(`${base(w)}/${id}/publish`)
      .send({ version: 'latest' });
    expect(bad.status).toBe(400);
    const un = await w.as('instructor').post(`${base(w)}/${id}/unpublish`);
    expect(un.body).toMatchObject({ published: false, currentVersion: 1 });
    expect(await launchable()).toEqual([]);
    await w
      .as('instructor')
      .post(`${base(w)}/${id}/publish`)
      .send({});
    const actions = (await auditActions(w, 'template.')).map((a) => a.action);
    expect(actions).toEqual(
      expect.arrayContaining(['template.create', 'template.edit', 'template.publish', 'template.unpublish']),
    );
  });

  it('lists templates with current, latest and published for instructors and TAs', async () => {
    const res = await w.as('ta').get(base(w));
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      expect.objectContaining({
        id,
        published: true,
        currentVersion: 2,
        latestVersion: 2,
        current: expect.objectContaining({ version: 2 }),
      }),
    ]);
    expect(
      (
        await w
          .as('ta')
          .patch(`${base(w)}/${id}`)
          .send({ cpus: 2 })
      ).status,
    ).toBe(403);
    expect((await w.as('student').get(base(w))).status).toBe(403);
  });

  it('shows students only published templates of courses they are enrolled in', async () => {
    const other = await newCourse(w.db.ds, 'CS999', '2026F');
    await newTemplate(w.db.ds, other, { slug: 'elsewhere' });
    const hidden = await newTemplate(w.db.ds, w.course, { slug: 'hidden' });
    await w.db.ds.query(`UPDATE lab_templates SET published = false WHERE id = $1`, [hidden.id]);
    const slugs = (await w.as('student').get('/api/labs/launchable')).body.map((t: { slug: string }) => t.slug);
    expect(slugs).toEqual(['intro']);
    const course = await w.as('student').get(`/api/courses/${w.course.id}`);
    expect(course.body.templates.map((t: { slug: string }) => t.slug)).toEqual(['intro']);
  });

  it('previews what a student gets, with the starter files and their sizes', async () => {
    const res = await w.as('instructor').get(`${base(w)}/${id}/preview`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      version: 2,
      published: true,
      resources: { cpus: 1, memoryMb: 2048, pids: 512 },
      gpu: expect.stringMatching(/^a shared GPU slot with at least 4 GiB/),
      limits: { idleTimeoutMinutes: 30, maxSessionHours: 8 },
      envNames: ['COURSE_NAME'],
      starter: { source: 'folder' },
    });
    expect(res.body.starter.files.length).toBeGreaterThan(0);
    for (const f of res.body.starter.files)
      expect(f).toEqual({ path: expect.stringMatching(/\S/), bytes: expect.any(Number) });
    expect(JSON.stringify(res.body)).not.toContain('"CS101"'); // env values stay out of previews
    const v1 = await w.as('instructor').get(`${base(w)}/${id}/preview?version=1`);
    expect(v1.body).toMatchObject({ version: 1, published: false, gpu: 'no GPU (CPU only)' });
    expect((await w.as('instructor').get(`${base(w)}/${id}/preview?version=x`)).status).toBe(400);
  });

  describe('starter archive upload', () => {
    const put = (body: Buffer, type = 'application/x-tar') =>
      w
        .as('instructor')
        .put(`${base(w)}/${id}/starter`)
        .set('Content-Type', type)
        .send(body);

    it('stores a good archive once and makes a version that uses it', async () => {
      const tar = await tarOf(
        [
          { name: 'notebooks/hello.ipynb', content: '{"cells": []}' },
          { name: 'data/points.csv', content: 'x,y\n1,2\n' },
        ],
        true,
      );
      const res = await put(tar, 'application/gzip');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ created: true, latestVersion: 3, currentVersion: 2 });
      expect(res.body.versions[0]).toMatchObject({
        version: 3,
        starterFolder: null,
        starterArchive: { fileCount: 2, totalBytes: 21 },
        memoryMb: 2048,
      });
      const preview = await w.as('instructor').get(`${base(w)}/${id}/preview`);
      expect(preview.body.starter).toEqual({
        source: 'archive',
        fileCount: 2,
        totalBytes: 21,
        files: [
          { path: 'notebooks/hello.ipynb', bytes: 13 },
          { path: 'data/points.csv', bytes: 8 },
        ],
      });
      const again = await put(tar, 'application/gzip');
      expect(again.body).toMatchObject({ created: false, latestVersion: 3 });
      expect(await counts()).toMatchObject({ archives: 1 });
      // an edit of something else keeps the archive
      const edit = await w
        .as('instructor')
        .patch(`${base(w)}/${id}`)
        .send({ idleTimeoutMinutes: 45 });
      expect(edit.body.versions[0]).toMatchObject({
        version: 4,
        starterArchive: { fileCount: 2 },
        starterFolder: null,
      });
    });

    const refusals: Array<[string, () => Promise<Buffer>, string, number?]> = [
      [
        'a tar with ../x',
        () =>
          tarOf([
            { name: 'ok', content: 'x' },
            { name: '../x', content: 'x' },
          ]),
        `entry "../x" has a '..' component`,
      ],
      ['a tar with /etc/x', () => tarOf([{ name: '/etc/x', content: 'x' }]), 'entry "/etc/x" has an absolute path'],
      ['a zip with ../x', () => zipWithRawName('../x'), `entry "../x" has a '..' component`],
      [
        'a symlink out',
        () => tarOf([{ name: 'passwd', type: 'symlink', target: '../../../etc/passwd' }]),
        'entry "passwd" is a symlink to "../../../etc/passwd", which leads outside the archive',
      ],
      [
        'a zip symlink out',
        () => zipOf([{ name: 'shadow', type: 'symlink', target: '/etc/shadow' }]),
        'entry "shadow" is a symlink to "/etc/shadow"',
      ],
      [
        'a hard link',
        () =>
          tarOf([
            { name: 'a', content: 'x' },
            { name: 'b', type: 'link', target: 'a' },
          ]),
        'entry "b" is a hard link',
      ],
      [
        'too many files',
        () => zipOf(Array.from({ length: 21 }, (_, i) => ({ name: `f${i}`, content: 'x' }))),
        'too many files: entry "f20" is past the limit of 20 files',
      ],
      [
        'too many bytes once extracted (a gzip bomb)',
        () => tarOf([{ name: 'zeros.bin', content: Buffer.alloc(5_000_000) }], true),
        'too large once extracted: at entry "zeros.bin"',
      ],
      ['not an archive', async () => Buffer.from('print("hello")\n'), 'not a tar or zip archive'],
    ];

    it.each(refusals)('refuses %s, naming it, with nothing written', async (_what, make, message) => {
      const before = await counts();
      const res = await put(await make());
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('template.starter_archive_invalid');
      expect(res.body.message).toContain(message);
      expect(res.body.message).toMatch(/^starter archive refused: /);
      expect(await counts()).toEqual(before);
    });

    it('answers 413 for an upload over the body limit, and 415 for a wrong Content-Type', async () => {
      const before = await counts();
      const big = await put(Buffer.alloc(60_000, 1), 'application/octet-stream');
      expect(big.status).toBe(413);
      expect(big.body.message).toBe('starter archive is too large: uploads are at most 48.8 KiB');
      const json = await w
        .as('instructor')
        .put(`${base(w)}/${id}/starter`)
        .send({ not: 'an archive' });
      expect(json.status).toBe(415);
      expect(json.body.message).toContain('send the archive as the raw request body');
      expect(await counts()).toEqual(before);
    });

    it('lets only instructors (and admins) upload', async () => {
      const tar = await tarOf([{ name: 'x.txt', content: 'x' }]);
      expect(
        (
          await w
            .as('ta')
            .put(`${base(w)}/${id}/starter`)
            .set('Content-Type', 'application/x-tar')
            .send(tar)
        ).status,
      ).toBe(403);
      expect(
        (
          await w
            .as('other')
            .put(`${base(w)}/${id}/starter`)
            .set('Content-Type', 'application/x-tar')
            .send(tar)
        ).status,
      ).toBe(403);
      expect(
        (
          await w
            .as(null)
            .put(`${base(w)}/${id}/starter`)
            .set('Content-Type', 'application/x-tar')
            .send(tar)
        ).status,
      ).toBe(401);
    });
  });
});
