import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tarOf } from '../../../../test/templates/archives';
import { checkStarterArchive } from './starter-archive';
import { materialiseStarter } from './starter-cache';

describe(materialiseStarter.name, () => {
  const root = mkdtempSync(join(tmpdir(), 'riglab-cache-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('extracts once under the sha256, safely when several callers race', async () => {
    const checked = await checkStarterArchive(
      await tarOf([
        { name: 'a/b.txt', content: 'hello' },
        { name: 'run.sh', content: 'echo', mode: 0o755 },
        { name: 'link', type: 'symlink', target: 'a/b.txt' },
      ]),
      { maxFiles: 10, maxBytes: 1000 },
    );
    const dirs = await Promise.all(
      Array.from({ length: 6 }, () => materialiseStarter(root, checked.sha256, checked.entries)),
    );
    const dir = join(root, checked.sha256);
    expect(new Set(dirs)).toEqual(new Set([dir]));
    // no temporary folder of a losing racer is left behind
    expect(readdirSync(root)).toEqual([checked.sha256]);
    expect(readFileSync(join(dir, 'a', 'b.txt'), 'utf8')).toBe('hello');
    expect(statSync(join(dir, 'run.sh')).mode & 0o777).toBe(0o755);
    expect(readlinkSync(join(dir, 'link'))).toBe('a/b.txt');
  });

  it('refuses a name that is no sha256, so nothing is written outside the cache', async () => {
    await expect(materialiseStarter(root, '../../etc', [])).rejects.toThrow('not a sha256: ../../etc');
  });
});
