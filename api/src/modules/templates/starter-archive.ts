import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { extract as tarExtract, type Header } from 'tar-stream';
import { fromBuffer as zipFromBuffer, type Entry as ZipEntry, type ZipFile } from 'yauzl';

// Uploaded starter files: an instructor's tar, tar.gz or zip, read entirely before anything is
// stored, and refused (naming the entry) unless every entry is a plain file, a folder or a symlink
// that stays inside the archive. Pure: no database, no files written; the caller decides what to keep.

export type ArchiveFormat = 'tar' | 'tar.gz' | 'zip';

export interface StarterLimits {
  /** Files (folders and links not counted) an archive may hold. */
  maxFiles: number;
  /** Bytes of all files together once extracted: counted while decompressing, so a bomb stops early. */
  maxBytes: number;
}

export type StarterEntry =
  | { type: 'dir'; path: string; mode: number }
  | { type: 'file'; path: string; mode: number; content: Buffer }
  | { type: 'symlink'; path: string; mode: number; target: string };

export interface CheckedArchive {
  format: ArchiveFormat;
  sha256: string;
  /** Entries in archive order, paths normalised (no leading `./`, no trailing `/`). */
  entries: StarterEntry[];
  files: Array<{ path: string; bytes: number }>;
  fileCount: number;
  totalBytes: number;
}

/** A refused archive; `entry` is the offending entry's name as the archive spells it, when there is one. */
export class StarterArchiveError extends Error {
  constructor(
    message: string,
    readonly entry?: string,
  ) {
    super(message);
    this.name = 'StarterArchiveError';
  }
}

/** By magic bytes, never by file name or Content-Type: gzip 1f 8b, zip PK\3\4 (or an empty PK\5\6), tar "ustar" at 257. */
export function detectFormat(buf: Buffer): ArchiveFormat | null {
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return 'tar.gz';
  if (buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && (buf[2] === 3 || buf[2] === 5)) return 'zip';
  if (buf.length >= 262 && buf.toString('latin1', 257, 262) === 'ustar') return 'tar';
  return null;
}

/** Where riglab keeps its own marker in a home: an archive must not forge it. */
const RESERVED = '.riglab';

/**
 * A name as an archive gives it → the path it would have under the home, or a refusal. Backslashes
 * count as separators (zips made on Windows) so `..\x` cannot slip through.
 */
export function safeEntryPath(name: string): string {
  const shown = JSON.stringify(name);
  if (name.includes('\0')) throw new StarterArchiveError(`entry ${shown} has a NUL character in its name`, name);
  const slashed = name.replace(/\\/g, '/');
  if (slashed.startsWith('/') || /^[A-Za-z]:/.test(slashed))
    throw new StarterArchiveError(`entry ${shown} has an absolute path: entries must be relative`, name);
  const parts = slashed.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..'))
    throw new StarterArchiveError(`entry ${shown} has a '..' component: entries must stay inside the archive`, name);
  if (parts[0] === RESERVED)
    throw new StarterArchiveError(`entry ${shown} is under ${RESERVED}/, which riglab keeps for itself`, name);
  return parts.join('/');
}

/** True when a symlink at `path` pointing at `target` resolves inside the archive root. */
export function linkStaysInside(path: string, target: string): boolean {
  if (target === '' || target.startsWith('/') || /^[A-Za-z]:/.test(target) || target.includes('\\')) return false;
  const resolved = posix.normalize(posix.join(posix.dirname(path), target));
  return resolved !== '..' && !resolved.startsWith('../') && !resolved.startsWith('/');
}

interface RawEntry {
  name: string;
  kind: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';
  /** What the archive says it is, for the error message on 'other'. */
  typeName: string;
  mode: number;
  linkTarget?: string;
  /** Declared size, checked before reading so a plain oversize file is refused without inflating it. */
  declaredBytes: number;
  /** Reads the content, counting every chunk against the budget. */
  read(budget: Budget): Promise<Buffer>;
}

class Budget {
  files = 0;
  bytes = 0;
  constructor(readonly limits: StarterLimits) {}
  addFile(name: string): void {
    if (++this.files > this.limits.maxFiles)
      throw new StarterArchiveError(
        `too many files: entry ${JSON.stringify(name)} is past the limit of ${this.limits.maxFiles} files`,
        name,
      );
  }
  addBytes(name: string, n: number): void {
    this.bytes += n;
    if (this.bytes > this.limits.maxBytes)
      throw new StarterArchiveError(
        `too large once extracted: at entry ${JSON.stringify(name)} the files pass the limit of ${formatBytes(this.limits.maxBytes)}`,
        name,
      );
  }
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${+(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${+(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

async function collect(stream: Readable, name: string, budget: Budget): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    budget.addBytes(name, (chunk as Buffer).length);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Reads and checks a whole archive. Throws StarterArchiveError for anything a home should not get:
 * absolute paths, `..`, links out of the root, any hard link, devices and fifos, a path through a
 * file or a symlink, a name twice, too many files or bytes, or bytes that are no tar or zip at all.
 */
export async function checkStarterArchive(buf: Buffer, limits: StarterLimits): Promise<CheckedArchive> {
  const format = detectFormat(buf);
  if (!format) throw new StarterArchiveError('not a tar or zip archive (expected a .tar, .tar.gz/.tgz or .zip file)');
  const budget = new Budget(limits);
  const entries: StarterEntry[] = [];
  const kinds = new Map<string, StarterEntry['type']>();
  const visit = async (raw: RawEntry): Promise<void> => {
    const path = safeEntryPath(raw.name);
    const shown = JSON.stringify(raw.name);
    if (raw.kind === 'hardlink')
      throw new StarterArchiveError(`entry ${shown} is a hard link: hard links are not allowed`, raw.name);
    if (raw.kind === 'other')
      throw new StarterArchiveError(
        `entry ${shown} is a ${raw.typeName}: only files, folders and symlinks are allowed`,
        raw.name,
      );
    if (path === '') {
      if (raw.kind === 'dir') return; // the archive's own root, `./`
      throw new StarterArchiveError(`entry ${shown} has no name`, raw.name);
    }
    // Every parent must be a folder (made implicitly or listed); never a file or a symlink, which
    // would let a later entry be written through a link to somewhere else.
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const kind = kinds.get(parent);
      if (kind && kind !== 'dir')
        throw new StarterArchiveError(
          `entry ${shown} lies under ${JSON.stringify(parent)}, which is a ${kind}`,
          raw.name,
        );
      if (!kind) {
        kinds.set(parent, 'dir');
        entries.push({ type: 'dir', path: parent, mode: 0o755 });
      }
    }
    const seen = kinds.get(path);
    if (seen && !(seen === 'dir' && raw.kind === 'dir'))
      throw new StarterArchiveError(`entry ${shown} appears more than once`, raw.name);
    if (raw.kind === 'dir') {
      if (!seen) {
        kinds.set(path, 'dir');
        entries.push({ type: 'dir', path, mode: 0o755 });
      }
      return;
    }
    if (raw.kind === 'symlink') {
      const target = raw.linkTarget ?? '';
      if (!linkStaysInside(path, target))
        throw new StarterArchiveError(
          `entry ${shown} is a symlink to ${JSON.stringify(target)}, which leads outside the archive`,
          raw.name,
        );
      kinds.set(path, 'symlink');
      entries.push({ type: 'symlink', path, mode: 0o777, target });
      return;
    }
    budget.addFile(raw.name);
    if (budget.bytes + raw.declaredBytes > limits.maxBytes) budget.addBytes(raw.name, raw.declaredBytes);
    const content = await raw.read(budget);
    kinds.set(path, 'file');
    // Only the executable bit survives: no setuid, no world-writable files in a student's home.
    entries.push({ type: 'file', path, mode: raw.mode & 0o111 ? 0o755 : 0o644, content });
  };
  if (format === 'zip') await readZip(buf, visit);
  else await readTar(buf, format === 'tar.gz', visit);
  const files = entries.flatMap((e) => (e.type === 'file' ? [{ path: e.path, bytes: e.content.length }] : []));
  return {
    format,
    sha256: createHash('sha256').update(buf).digest('hex'),
    entries,
    files,
    fileCount: files.length,
    totalBytes: files.reduce((n, f) => n + f.bytes, 0),
  };
}

function tarKind(h: Header): RawEntry['kind'] {
  switch (h.type) {
    case 'file':
    case 'contiguous-file':
      return 'file';
    case 'directory':
      return 'dir';
    case 'symlink':
      return 'symlink';
    case 'link':
      return 'hardlink';
    default:
      return 'other';
  }
}

const TAR_TYPE_NAMES: Record<string, string> = {
  'character-device': 'character device',
  'block-device': 'block device',
  fifo: 'fifo',
};

async function readTar(buf: Buffer, gzipped: boolean, visit: (e: RawEntry) => Promise<void>): Promise<void> {
  const ex = tarExtract();
  const source = Readable.from([buf]);
  // Decompression happens as entries are read, so the byte budget stops a gzip bomb mid-stream.
  const input = gzipped ? source.pipe(createGunzip()) : source;
  let streamError: Error | null = null;
  input.on('error', (err: Error) => {
    streamError = err;
    ex.destroy(err);
  });
  input.pipe(ex);
  try {
    for await (const entry of ex) {
      const h = entry.header;
      await visit({
        name: h.name,
        kind: tarKind(h),
        typeName: TAR_TYPE_NAMES[h.type ?? ''] ?? String(h.type),
        mode: h.mode ?? 0o644,
        linkTarget: h.linkname ?? undefined,
        declaredBytes: h.size ?? 0,
        read: (budget) => collect(entry as unknown as Readable, h.name, budget),
      });
      entry.resume();
    }
  } catch (err) {
    if (err instanceof StarterArchiveError) throw err;
    throw new StarterArchiveError(
      `not a readable ${gzipped ? 'tar.gz' : 'tar'} archive (${(streamError ?? (err as Error)).message})`,
    );
  } finally {
    input.unpipe?.(ex);
    ex.destroy();
  }
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;

function zipKind(e: ZipEntry, name: string): { kind: RawEntry['kind']; typeName: string; mode: number } {
  // Unix "made by" zips keep st_mode in the high half of the external attributes; others have 0 there.
  const mode = (e.externalFileAttributes >>> 16) & 0xffff;
  const fmt = mode & S_IFMT;
  if (fmt === S_IFLNK) return { kind: 'symlink', typeName: 'symlink', mode };
  if (fmt === S_IFDIR || name.endsWith('/')) return { kind: 'dir', typeName: 'folder', mode };
  if (fmt === 0 || fmt === S_IFREG) return { kind: 'file', typeName: 'file', mode: mode || 0o644 };
  const names: Record<number, string> = { 0o020000: 'character device', 0o060000: 'block device', 0o010000: 'fifo' };
  return { kind: 'other', typeName: names[fmt] ?? 'special file', mode };
}

async function readZip(buf: Buffer, visit: (e: RawEntry) => Promise<void>): Promise<void> {
  let zip: ZipFile;
  try {
    // decodeStrings off: yauzl would refuse bad names itself with its own words; we name the entry.
    zip = await new Promise<ZipFile>((resolve, reject) =>
      zipFromBuffer(buf, { lazyEntries: true, decodeStrings: false, validateEntrySizes: true }, (err, z) =>
        err ? reject(err) : resolve(z!),
      ),
    );
  } catch (err) {
    throw new StarterArchiveError(`not a readable zip archive (${(err as Error).message})`);
  }
  const nameOf = (e: ZipEntry) =>
    (e.fileName as unknown as Buffer).toString(e.generalPurposeBitFlag & 0x800 ? 'utf8' : 'latin1');
  const open = (e: ZipEntry) =>
    new Promise<Readable>((resolve, reject) => zip.openReadStream(e, (err, s) => (err ? reject(err) : resolve(s!))));
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', resolve);
      zip.on('entry', (e: ZipEntry) => {
        const name = nameOf(e);
        const k = zipKind(e, name);
        const readAll = async (budget: Budget) => collect(await open(e), name, budget);
        (async () => {
          // A zip keeps a symlink's target as its content: read it (bounded) before judging the link.
          const linkTarget =
            k.kind === 'symlink'
              ? (await readAll(new Budget({ maxFiles: 1, maxBytes: 4096 }))).toString('utf8')
              : undefined;
          await visit({
            name,
            kind: k.kind,
            typeName: k.typeName,
            mode: k.mode,
            linkTarget,
            declaredBytes: k.kind === 'file' ? e.uncompressedSize : 0,
            read: readAll,
          });
          zip.readEntry();
        })().catch(reject);
      });
      zip.readEntry();
    }).catch(async (err: Error) => {
      if (err instanceof StarterArchiveError) throw err;
      throw new StarterArchiveError(`not a readable zip archive (${err.message})`);
    });
  } finally {
    zip.close();
  }
}
