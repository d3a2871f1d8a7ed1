import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { LAB_GID, LAB_HOME, LAB_UID } from './container-spec';
import { tarArchive, type TarEntry } from './tar';

/**
 * The student's home: a named volume that outlives containers, and the one-time copy of a
 * template's starter files into it.
 */

/** Creates the home volume when missing (labelled); an existing volume is used as it is. */
export async function ensureHomeVolume(
  docker: Docker,
  volume: string,
  driverOpts: Record<string, string> | undefined,
  labels: Record<string, string>,
): Promise<{ created: boolean }> {
  try {
    await docker.getVolume(volume).inspect();
    return { created: false };
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
  }
  // Creating a volume that appeared meanwhile returns it unchanged: a race with another start is fine.
  await docker.createVolume({ Name: volume, Driver: 'local', DriverOpts: driverOpts ?? {}, Labels: labels });
  return { created: true };
}

/** Written last, in the same archive as the starter files: present only after a complete copy. */
export const STARTER_MARKER = '.riglab/starter-files-copied';

async function existsIn(container: Docker.Container, path: string): Promise<boolean> {
  try {
    // dockerode hands back the HEAD response as a stream: release it, or its socket stays open.
    const res = (await container.infoArchive({ path })) as NodeJS.ReadableStream & { destroy?: () => void };
    res.destroy?.();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

interface LocalEntry {
  rel: string;
  abs: string;
  kind: 'dir' | 'file' | 'symlink';
}

/** The folder's entries, parents before children; sockets, fifos and devices are left out. */
async function walk(root: string, rel = ''): Promise<LocalEntry[]> {
  const out: LocalEntry[] = [];
  const names = (await readdir(join(root, rel))).sort();
  for (const name of names) {
    const r = rel ? `${rel}/${name}` : name;
    const abs = join(root, r);
    const st = await lstat(abs);
    if (st.isDirectory()) out.push({ rel: r, abs, kind: 'dir' }, ...(await walk(root, r)));
    else if (st.isFile()) out.push({ rel: r, abs, kind: 'file' });
    else if (st.isSymbolicLink()) out.push({ rel: r, abs, kind: 'symlink' });
  }
  return out;
}

/**
 * Copies `folder` into the home of `container` (created, not necessarily started) through the
 * archive API, owned by the lab user. Exactly once per home: the marker says it was done, so a
 * starter file the student deleted stays deleted. Never over the student's files: an entry already
 * in the home (a volume that existed before riglab, or a copy cut short by a crash) is left alone.
 * Returns how many entries were written (0 when the home already had its starter files).
 */
export async function copyStarterFiles(container: Docker.Container, folder: string): Promise<number> {
  if (await existsIn(container, `${LAB_HOME}/${STARTER_MARKER}`)) return 0;
  const local = await walk(folder);
  // Asked level by level: the children of a directory the home lacks are missing too and are not
  // asked about, so a new home costs one request per top-level entry.
  const present = new Set<string>();
  const absent = new Set<string>();
  const depth = (e: LocalEntry) => e.rel.split('/').length;
  const deepest = Math.max(0, ...local.map(depth));
  for (let d = 1; d <= deepest; d++) {
    const ask: LocalEntry[] = [];
    for (const e of local.filter((x) => depth(x) === d)) {
      const parent = e.rel.slice(0, Math.max(0, e.rel.lastIndexOf('/')));
      if (parent && absent.has(parent)) absent.add(e.rel);
      else ask.push(e);
    }
    const answers = await mapLimit(ask, 8, (e) => existsIn(container, `${LAB_HOME}/${e.rel}`));
    ask.forEach((e, i) => (answers[i] ? present : absent).add(e.rel));
  }
  const entries: TarEntry[] = [];
  const owner = { uid: LAB_UID, gid: LAB_GID };
  for (const e of local) {
    if (present.has(e.rel)) continue;
    const st = await lstat(e.abs);
    const common = { path: e.rel, ...owner, mtime: st.mtime };
    if (e.kind === 'dir') entries.push({ type: 'dir', mode: 0o755, ...common });
    else if (e.kind === 'symlink')
      entries.push({ type: 'symlink', mode: 0o777, target: await readlink(e.abs), ...common });
    else
      entries.push({ type: 'file', mode: st.mode & 0o111 ? 0o755 : 0o644, content: await readFile(e.abs), ...common });
  }
  const written = entries.length;
  const now = new Date();
  entries.push(
    { type: 'dir', path: '.riglab', mode: 0o755, ...owner, mtime: now },
    {
      type: 'file',
      path: STARTER_MARKER,
      mode: 0o644,
      ...owner,
      mtime: now,
      content: Buffer.from(
        `starter files copied ${now.toISOString()}; riglab never copies them again into this home\n`,
      ),
    },
  );
  await container.putArchive(await tarArchive(entries), { path: LAB_HOME, noOverwriteDirNonDir: true });
  return written;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
