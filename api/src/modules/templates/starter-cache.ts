import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StarterEntry } from './starter-archive';

/**
 * Writes checked starter entries to `<root>/<sha256>/` once. The folder is built under a unique
 * temporary name and renamed into place: rename is atomic, so a reader sees either no folder or a
 * complete one, and when several portal processes race, the first rename wins and the others drop
 * their copy. The content never changes for a given sha256, so a folder that exists is final.
 */
export async function materialiseStarter(root: string, sha256: string, entries: StarterEntry[]): Promise<string> {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
  const final = join(root, sha256);
  if (existsSync(final)) return final;
  await mkdir(root, { recursive: true });
  const tmp = join(root, `.tmp-${sha256.slice(0, 12)}-${randomBytes(6).toString('hex')}`);
  await mkdir(tmp);
  try {
    // Entries were checked (starter-archive.ts): relative, no `..`, parents listed before children.
    for (const e of entries) {
      const at = join(tmp, e.path);
      if (e.type === 'dir') await mkdir(at, { recursive: true });
      else if (e.type === 'symlink') await symlink(e.target, at);
      else {
        await writeFile(at, e.content);
        await chmod(at, e.mode);
      }
    }
    try {
      await rename(tmp, final);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
    return final;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
