import { pack } from 'tar-stream';

/** One entry of an archive for the Docker archive API (`putArchive`), with its owner fixed. */
export type TarEntry =
  | { type: 'dir'; path: string; mode: number; uid: number; gid: number; mtime: Date }
  | { type: 'file'; path: string; mode: number; uid: number; gid: number; mtime: Date; content: Buffer }
  | { type: 'symlink'; path: string; mode: number; uid: number; gid: number; mtime: Date; target: string };

/**
 * One tar archive holding `entries` in order (parents before their children), built in memory:
 * starter files are small and few.
 */
export async function tarArchive(entries: TarEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', resolve);
    p.on('error', reject);
  });
  for (const e of entries) {
    const common = { name: e.path, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime };
    if (e.type === 'dir') p.entry({ ...common, name: e.path.endsWith('/') ? e.path : `${e.path}/`, type: 'directory' });
    else if (e.type === 'symlink') p.entry({ ...common, type: 'symlink', linkname: e.target });
    else p.entry({ ...common, type: 'file', size: e.content.length }, e.content);
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}
