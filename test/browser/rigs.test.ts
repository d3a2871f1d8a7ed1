import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Rig } from '../../api/src/modules/rigs/rig.entity';
import { RigsService } from '../../api/src/modules/rigs/rigs.service';
import { TelemetryProbeService } from '../../api/src/modules/telemetry/telemetry-probe.service';
import { migratedDatabase } from '../support/app';
import { ROOT } from '../support/labs';
import { env } from '../support/services';
import { startSsoPortal } from '../support/sso';

// Campus IT's rig pages in Debian's Chromium: sign in as the dev IdP's admin, the rigs board with
// the local rig and its live figures, the rig's page with telemetry charts drawn from real probe
// samples, draining it with a reason, and the add-rig form's connection test (refused, then a real
// engine's inventory). Screenshots of each step go to test/browser/artifacts/rigs/ (git-ignored).

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(__dirname, 'artifacts', 'rigs');

/** Builds dist/web when it is missing or older than a source file: the portal serves what is built. */
function ensureWebBuilt(): void {
  const index = join(ROOT, 'dist', 'web', 'index.html');
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((e) =>
        e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs,
      ),
    );
  if (existsSync(index) && statSync(index).mtimeMs >= newest(join(ROOT, 'web'))) return;
  execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: ROOT, stdio: 'ignore' });
}

describe('campus IT watches and drains rigs, and adds one, in a real browser', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let portal: Awaited<ReturnType<typeof startSsoPortal>>;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  let shot = 0;
  const pageErrors: string[] = [];
  const badRequests: string[] = [];

  async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    try {
      const v = await fn();
      await page.screenshot({
        path: join(ARTIFACTS, `${String(++shot).padStart(2, '0')}-${name}.png`),
        fullPage: true,
      });
      return v;
    } catch (e) {
      await page
        .screenshot({ path: join(ARTIFACTS, `${String(++shot).padStart(2, '0')}-${name}-FAILED.png`), fullPage: true })
        .catch(() => undefined);
      const extra = [...pageErrors, ...badRequests];
      throw new Error(`step "${name}" failed: ${(e as Error).message}${extra.length ? `\n${extra.join('\n')}` : ''}`);
    }
  }

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium`);
    }
    rmSync(ARTIFACTS, { recursive: true, force: true });
    mkdirSync(ARTIFACTS, { recursive: true });
    ensureWebBuilt();

    db = await migratedDatabase();
    portal = await startSsoPortal({ DATABASE_URL: db.url, RECONCILE_INTERVAL_S: '3600' });
    // The local rig as `npm run up` registers it: discovered through the real engine, put into service.
    await portal.app.get(RigsService).add({ name: 'local', endpoint: env.dockerHost, activate: 'browser test rig' });
    // Two real probe rounds: each chart line has two points.
    const probe = portal.app.get(TelemetryProbeService);
    expect(await probe.probeAll()).toEqual({ probed: 1, failed: 0 });
    await new Promise((r) => setTimeout(r, 1100));
    expect(await probe.probeAll()).toEqual({ probed: 1, failed: 0 });

    profile = mkdtempSync(join(tmpdir(), 'riglab-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1360, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    context.setDefaultTimeout(30_000);
    context.on('requestfailed', (r) => badRequests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
    context.on('response', (r) => {
      if (r.status() >= 500) badRequests.push(`${r.request().method()} ${r.url()}: HTTP ${r.status()}`);
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
  }, 240_000);

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    if (profile) rmSync(profile, { recursive: true, force: true });
    await portal?.close();
    await db?.drop();
  }, 60_000);

  it('shows the board and the rig page with charts, drains the rig with a reason, and tests a new rig before adding it', async () => {
    await step('sign-in', async () => {
      await page.goto(`${portal.url}/rigs`);
      await page.getByRole('link', { name: 'Sign in with your university account' }).click();
      await page.waitForURL((u) => u.pathname.startsWith('/dev-idp/'));
      await page.locator('input[name="username"]').fill('admin');
      await page.locator('input[name="password"][type="password"]').fill('demo');
      await page.locator('button[type="submit"]', { hasText: 'Sign in' }).click();
      await page.waitForURL((u) => u.pathname === '/rigs');
    });

    const row = page.getByRole('row', { name: 'rig local' });
    await step('board', async () => {
      await row.waitFor();
      await expect(row.locator('.badge.state-active').textContent()).resolves.toBe('active');
      const rig = await db.ds.getRepository(Rig).findOneByOrFail({ name: 'local' });
      // The capacity the board shows is the stored one; memory and disk from the probe's latest sample.
      await expect(row.textContent()).resolves.toContain(`${rig.cpuMillis / 1000} CPUs`);
      await expect(row.getByRole('img', { name: /^memory: \d+% used$/ }).count()).resolves.toBe(1);
      await expect(row.getByRole('img', { name: /^disk: \d+% used$/ }).count()).resolves.toBe(1);
      await expect(row.textContent()).resolves.toMatch(/no GPUs/);
      await expect(page.locator('.board-summary').textContent()).resolves.toMatch(/^1 rig\(s\) · 1 active/);
    });

    await step('rig-page', async () => {
      await row.getByRole('link', { name: 'local' }).click();
      await page.waitForURL((u) => u.pathname === '/rigs/local');
      await page.getByRole('heading', { name: 'local', level: 1 }).waitFor();
      await page.getByRole('img', { name: /^Load \(1 min\): latest load / }).waitFor();
      // Load, memory and disk charts each draw their line from the two samples.
      const lines = page.locator('svg path.chart-line');
      await expect(lines.count()).resolves.toBe(3);
      for (const d of await lines.evaluateAll((ps) => ps.map((p) => p.getAttribute('d') ?? '')))
        expect(d).toMatch(/^M[\d.]+,[\d.]+ L[\d.]+,[\d.]+$/);
      await expect(page.getByRole('list', { name: 'State changes' }).textContent()).resolves.toMatch(
        /— → registered by system: registered: engine answered[\s\S]*registered → active by system: browser test rig/,
      );
      await expect(page.getByRole('list', { name: 'Audit events' }).textContent()).resolves.toMatch(
        /rig\.state[\s\S]*rig\.add/,
      );
      await expect(page.locator('.facts').first().textContent()).resolves.toMatch(/Load[\d.]+ on \d+ CPUs/);
    });

    await step('drained', async () => {
      await page.getByRole('button', { name: 'Drain', exact: true }).click();
      await page.getByLabel("Reason (kept in the rig's history)").fill('fan on GPU 2 rattles');
      await page.getByLabel('Labs may finish for (e.g. 30m, 2h; empty: the default)').fill('30m');
      await page.getByRole('button', { name: 'Drain local' }).click();
      await page.getByRole('status').filter({ hasText: 'Rig local is draining now.' }).waitFor();
      await page.getByLabel('state draining').waitFor();
      await expect(page.locator('.state-reason').textContent()).resolves.toMatch(
        /^fan on GPU 2 rattles · Running labs stop at /,
      );
      const rig = await db.ds.getRepository(Rig).findOneByOrFail({ name: 'local' });
      expect([rig.state, rig.stateReason]).toEqual(['draining', 'fan on GPU 2 rattles']);
      expect(Math.round((rig.drainDeadline!.getTime() - Date.now()) / 60_000)).toBe(30);
    });

    await step('board-after-drain', async () => {
      await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Rigs' }).click();
      await expect(row.locator('.badge.state-draining').textContent()).resolves.toBe('draining');
      await expect(row.textContent()).resolves.toContain('fan on GPU 2 rattles');
    });

    await step('add-refused', async () => {
      await page.getByRole('link', { name: 'Add rig' }).click();
      await page.waitForURL((u) => u.pathname === '/rigs/new');
      await page.getByLabel('Name').fill('rig-gone');
      await page.getByLabel('Docker endpoint').fill('unix:///tmp/riglab-nothing-here.sock');
      await page.getByRole('button', { name: 'Test and add rig' }).click();
      await expect(page.getByRole('alert').textContent()).resolves.toBe(
        "Rig not added: rig 'rig-gone' not registered: the Docker engine at unix:///tmp/riglab-nothing-here.sock did not answer: socket not found (is the Docker engine running?) (to register it anyway and test it later: --offline, or offline: true in the API)",
      );
      expect(await db.ds.getRepository(Rig).exist({ where: { name: 'rig-gone' } })).toBe(false);
    });

    await step('add-registered', async () => {
      await page.getByLabel('Name').fill('rig-two');
      await page.getByLabel('Docker endpoint').fill(env.dockerHost);
      await page.getByRole('button', { name: 'Test and add rig' }).click();
      const result = page.getByLabel('Registration result');
      await result.getByText(/^Connection test passed: the engine at/).waitFor();
      const rig = await db.ds.getRepository(Rig).findOneByOrFail({ name: 'rig-two' });
      expect(rig.state).toBe('registered');
      await expect(result.textContent()).resolves.toContain(`Docker${rig.inventory!.engine.version}`);
      await expect(result.textContent()).resolves.toContain(`CPUs${rig.inventory!.cpus}`);
      await expect(result.textContent()).resolves.toContain('GPUsnone found');
    });
    expect(pageErrors).toEqual([]);
  });
});
