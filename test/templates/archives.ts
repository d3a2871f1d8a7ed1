import { pack, type Header } from 'tar-stream';
import { ZipFile } from 'yazl';
import { gzipSync } from 'node:zlib';

// Archives made the way real tools make them (tar-stream writes what GNU tar reads; yazl what
// unzip reads), including the hostile entries an upload must be refused for.

export type FixtureEntry =
  | { name: string; content: string | Buffer; mode?: number }
  | { name: string; type: 'directory' }
  | { name: string; type: 'symlink' | 'link'; target: string }
  | { name: string; type: 'character-device' | 'fifo' };

export async function tarOf(entries: FixtureEntry[], gzip = false): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', resolve);
    p.on('error', reject);
  });
  for (const e of entries) {
    if ('content' in e) {
      const body = Buffer.from(e.content);
      p.entry({ name: e.name, size: body.length, mode: e.mode ?? 0o644 }, body);
    } else if (e.type === 'directory') p.entry({ name: e.name, type: 'directory', mode: 0o755 });
    else if (e.type === 'symlink' || e.type === 'link') p.entry({ name: e.name, type: e.type, linkname: e.target });
    else p.entry({ name: e.name, type: e.type, devmajor: 1, devminor: 3 } as Header);
  }
  p.finalize();
  await done;
  const tar = Buffer.concat(chunks);
  return gzip ? gzipSync(tar) : tar;
}

/** A zip; symlinks carry their Unix mode in the external attributes as Info-ZIP writes them. */
export async function zipOf(entries: FixtureEntry[]): Promise<Buffer> {
  const z = new ZipFile();
  for (const e of entries) {
    if ('content' in e) z.addBuffer(Buffer.from(e.content), e.name, { mode: 0o100000 | (e.mode ?? 0o644) });
    else if (e.type === 'directory') z.addEmptyDirectory(e.name);
    else if (e.type === 'symlink') z.addBuffer(Buffer.from(e.target), e.name, { mode: 0o120777 });
    else if (e.type === 'fifo') z.addBuffer(Buffer.alloc(0), e.name, { mode: 0o010644 });
    else throw new Error(`zip fixtures cannot hold a ${e.type}`);
  }
  z.end();
  const chunks: Buffer[] = [];
  for await (const c of z.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A zip whose entry names are written raw (yazl refuses `..` and absolute names itself). */
export async function zipWithRawName(name: string): Promise<Buffer> {
  const placeholder = 'X'.repeat(name.length);
  const zip = await zipOf([{ name: placeholder, content: 'x' }]);
  // The name appears twice (local header and central directory); same length, so offsets hold.
  return Buffer.from(zip.toString('latin1').split(placeholder).join(name), 'latin1');
}
