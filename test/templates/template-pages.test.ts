import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { migratedDatabase } from '../support/app';
import { LAB_IMAGE, newCourse, ROOT } from '../support/labs';
import { startSsoPortal } from '../support/sso';
import { tarOf } from './archives';

// An instructor's path through the template pages in Debian's Chromium: create a template, be told
// which entry of a bad archive is wrong, upload a good one, publish, read the preview and history.
// Screenshots land in test-artifacts/templates/ (ignored by git) for a person to look at.

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts', 'templates');

describe('the lab template pages, in a real browser', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let portal: Awaited<ReturnType<typeof startSsoPortal>>;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  let courseId: string;
  const files = mkdtempSync(join(tmpdir(), 'riglab-upload-'));
  const pageErrors: string[] = [];
  let shot = 0;
  const snap = (name: string) =>
    page.screenshot({ path: join(ARTIFACTS, `${String(++shot).padStart(2, '0')}-${name}.png`), fullPage: true });

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`${CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium`);
    if (!existsSync(join(ROOT, 'dist', 'web', 'index.html')))
      throw new Error('build the web UI first: npm run build:web');
    rmSync(ARTIFACTS, { recursive: true, force: true });
    mkdirSync(ARTIFACTS, { recursive: true });
    db = await migratedDatabase();
    courseId = (await newCourse(db.ds, 'CS101', '2026F')).id;
    portal = await startSsoPortal({ DATABASE_URL: db.url, RUN_WORKERS: 'false' });
    // The dev IdP's `instructor` is made instructor of CS101 2026F by its course attribute.
    const session = await portal.signIn('instructor');
    profile = mkdtempSync(join(tmpdir(), 'riglab-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    context.setDefaultTimeout(20_000);
    const [name, value] = session.cookie.split('=');
    await context.addCookies([{ name, value, url: portal.url }]);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => pageErrors.push(e.message));
    writeFileSync(
      join(files, 'bad.tar'),
      await tarOf([
        { name: 'ok.ipynb', content: '{}' },
        { name: '../../escape.sh', content: 'echo gotcha' },
      ]),
    );
    writeFileSync(
      join(files, 'good.tar.gz'),
      await tarOf([{ name: 'lesson/one.ipynb', content: '{"cells": []}' }], true),
    );
  }, 120_000);

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    if (profile) rmSync(profile, { recursive: true, force: true });
    rmSync(files, { recursive: true, force: true });
    await portal?.close();
    await db?.drop();
  });

  it('creates, refuses a bad archive naming the entry, uploads, publishes and previews', async () => {
    await page.goto(`${portal.url}/courses/${courseId}`);
    await page.getByRole('link', { name: 'Manage lab templates' }).click();
    await page.getByRole('heading', { name: /Lab templates of CS101 2026F/ }).waitFor();
    await page.getByText('This course has no lab templates yet.').waitFor();
    await page.getByRole('button', { name: 'New template' }).click();
    await page.getByLabel('Short name (slug)').fill('ml-intro');
    await page.getByLabel('Title', { exact: true }).fill('Machine learning intro');
    await page.getByLabel('Lab image').fill(LAB_IMAGE);
    await page.getByLabel('A shared GPU slot').check();
    await page.getByLabel('At least this much GPU memory (MiB)').fill('4096');
    await page.getByLabel('GPU models it runs on (comma-separated; empty: any)').fill('GTX 1070, RTX 3060');
    await page.getByLabel(/Environment variables/).fill('COURSE=CS101');
    await snap('new-template-form');
    await page.getByRole('button', { name: 'Create template' }).click();

    await page.getByRole('heading', { name: /Machine learning intro/ }).waitFor();
    await page.getByText('Not published: students do not see it').waitFor();
    await page
      .getByText(/a shared GPU slot with at least 4 GiB of GPU memory \(models GTX 1070, RTX 3060\)/)
      .first()
      .waitFor();

    await page.getByLabel(/Upload an archive/).setInputFiles(join(files, 'bad.tar'));
    // Shown beside the file input, naming the entry.
    const alert = page.locator('section[aria-labelledby="starter-heading"]').getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toBe(
      `Not uploaded, nothing changed: starter archive refused: entry "../../escape.sh" has a '..' component: entries must stay inside the archive`,
    );
    await snap('bad-archive-refused');

    await page.getByLabel(/Upload an archive/).setInputFiles(join(files, 'good.tar.gz'));
    await page.getByText('Uploaded good.tar.gz: version 2 has 1 starter file(s).').waitFor();
    await page.getByRole('button', { name: 'Publish version 2' }).click();
    await page.getByText('Published: students launch version 2').waitFor();
    await expect(page.locator('.file-list').textContent()).resolves.toContain('lesson/one.ipynb');
    // An edit of one field makes version 3 and keeps the uploaded starter files.
    await page.getByLabel('Memory (MiB)', { exact: true }).fill('2048');
    await page.getByRole('button', { name: 'Save as a new version' }).click();
    await page.getByText('Saved as version 3 (changed: memoryMb). Publish it to give it to students.').waitFor();
    const history = page.locator('section[aria-labelledby="history-heading"] tbody tr');
    expect(await history.count()).toBe(3);
    await expect(history.first().textContent()).resolves.toMatch(/^3[\s\S]*2048 MiB[\s\S]*archive, 1 file/);
    await expect(history.nth(1).textContent()).resolves.toMatch(/^2\s*published/);
    await snap('published-with-preview-and-history');

    await page.getByRole('link', { name: '← All lab templates' }).click();
    await page.getByRole('link', { name: 'Machine learning intro' }).waitFor();
    await expect(page.locator('tbody').textContent()).resolves.toMatch(
      /Published v2[\s\S]*Draft v3[\s\S]*shared GPU ≥ 4096 MiB/,
    );
    await snap('template-list');
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
