/**
 * A minimal POSIX ustar writer for the Docker archive API (`putArchive`). Starter files are small
 * and few, so the archive is built in memory. Kept in-house (about 50 lines) instead of a tar
 * library: the API needs only directories, regular files and symlinks with fixed owners.
 */

export type TarEntry =
  | { type: 'dir'; path: string; mode: number; uid: number; gid: number; mtime: Date }
  | { type: 'file'; path: string; mode: number; uid: number; gid: number; mtime: Date; content: Buffer }
  | { type: 'symlink'; path: string; mode: number; uid: number; gid: number; mtime: Date; target: string };

const BLOCK = 512;

/** Splits a path over ustar's `prefix` (155) and `name` (100) fields; null when it does not fit. */
function splitPath(path: string): { prefix: string; name: string } | null {
  if (Buffer.byteLength(path) <= 100) return { prefix: '', name: path };
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name) return { prefix, name };
  }
  return null;
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(entry: TarEntry, size: number): Buffer {
  const path = entry.type === 'dir' && !entry.path.endsWith('/') ? `${entry.path}/` : entry.path;
  const split = splitPath(path);
  if (!split) throw new Error(`path too long for a tar archive: ${entry.path}`);
  const linkname = entry.type === 'symlink' ? entry.target : '';
  if (Buffer.byteLength(linkname) > 100) throw new Error(`symlink target too long: ${entry.path}`);
  const h = Buffer.alloc(BLOCK);
  h.write(split.name, 0, 100, 'utf8');
  h.write(octal(entry.mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(entry.uid, 8), 108, 'ascii');
  h.write(octal(entry.gid, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(Math.floor(entry.mtime.getTime() / 1000), 12), 136, 'ascii');
  h.write(' '.repeat(8), 148, 'ascii'); // the checksum is computed with its own field as spaces
  h.write(entry.type === 'dir' ? '5' : entry.type === 'symlink' ? '2' : '0', 156, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0' + '00', 257, 'ascii');
  h.write(split.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

/** One tar archive holding `entries` in order (parents must come before their children). */
export function tarArchive(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const content = entry.type === 'file' ? entry.content : Buffer.alloc(0);
    parts.push(header(entry, content.length), content);
    const pad = (BLOCK - (content.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(BLOCK * 2)); // end of archive: two zero blocks
  return Buffer.concat(parts);
}
