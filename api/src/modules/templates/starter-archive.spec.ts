import { gzipSync } from 'node:zlib';
import { tarOf, zipOf, zipWithRawName } from '../../../../test/templates/archives';
import { checkStarterArchive, detectFormat, linkStaysInside, safeEntryPath } from './starter-archive';

const limits = { maxFiles: 10, maxBytes: 10_000 };
const good = [
  { name: 'README.md', content: '# hello\n' },
  { name: 'notebooks/01.ipynb', content: '{}' },
  { name: 'run.sh', content: 'echo hi\n', mode: 0o4755 },
  { name: 'latest', type: 'symlink' as const, target: 'notebooks/01.ipynb' },
];

describe('starter archives', () => {
  describe(safeEntryPath.name, () => {
    it('normalises harmless names and refuses escaping ones, naming them', () => {
      expect(safeEntryPath('./a/./b/')).toBe('a/b');
      expect(() => safeEntryPath('../x')).toThrow(`entry "../x" has a '..' component`);
      expect(() => safeEntryPath('a/../../x')).toThrow(/'\.\.' component/);
      expect(() => safeEntryPath('a\\..\\x')).toThrow(/'\.\.' component/);
      expect(() => safeEntryPath('/etc/x')).toThrow(`entry "/etc/x" has an absolute path`);
      expect(() => safeEntryPath('C:/x')).toThrow(/absolute path/);
      expect(() => safeEntryPath('.riglab/starter-files-copied')).toThrow(/riglab keeps for itself/);
    });
  });

  describe(linkStaysInside.name, () => {
    it('allows links that resolve inside the root and nothing else', () => {
      expect(linkStaysInside('a/b', '../c')).toBe(true);
      expect(linkStaysInside('a/b', 'c/d')).toBe(true);
      expect(linkStaysInside('a/b', '../../c')).toBe(false);
      expect(linkStaysInside('b', '/etc/passwd')).toBe(false);
      expect(linkStaysInside('b', '')).toBe(false);
    });
  });

  describe(detectFormat.name, () => {
    it('goes by magic bytes', async () => {
      expect(detectFormat(await tarOf(good))).toBe('tar');
      expect(detectFormat(await tarOf(good, true))).toBe('tar.gz');
      expect(detectFormat(await zipOf(good))).toBe('zip');
      expect(detectFormat(Buffer.from('hello, not an archive'))).toBeNull();
    });
  });

  describe(checkStarterArchive.name, () => {
    it.each([
      ['tar', () => tarOf(good)],
      ['tar.gz', () => tarOf(good, true)],
      ['zip', () => zipOf(good)],
    ])('reads a good %s: files with sizes, folders implied, modes tamed', async (format, make) => {
      const c = await checkStarterArchive(await make(), limits);
      expect(c.format).toBe(format);
      expect(c.files).toEqual([
        { path: 'README.md', bytes: 8 },
        { path: 'notebooks/01.ipynb', bytes: 2 },
        { path: 'run.sh', bytes: 8 },
      ]);
      expect(c.fileCount).toBe(3);
      expect(c.totalBytes).toBe(18);
      expect(c.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(c.entries.map((e) => `${e.type}:${e.path}`)).toEqual([
        'file:README.md',
        'dir:notebooks',
        'file:notebooks/01.ipynb',
        'file:run.sh',
        'symlink:latest',
      ]);
      expect(c.entries.find((e) => e.path === 'run.sh')!.mode).toBe(0o755);
    });

    it.each([
      ['tar', '../x', /entry "\.\.\/x" has a '\.\.' component/],
      ['tar', '/etc/x', /entry "\/etc\/x" has an absolute path/],
      ['zip', '../x', /entry "\.\.\/x" has a '\.\.' component/],
      ['zip', '/etc/x', /entry "\/etc\/x" has an absolute path/],
    ])('refuses a %s with the entry %s', async (kind, name, message) => {
      const buf =
        kind === 'tar'
          ? await tarOf([
              { name: 'ok.txt', content: 'x' },
              { name, content: 'x' },
            ])
          : await zipWithRawName(name);
      await expect(checkStarterArchive(buf, limits)).rejects.toMatchObject({
        message: expect.stringMatching(message),
        entry: name,
      });
    });

    it('refuses symlinks leading out, hard links, devices and fifos, naming each', async () => {
      const refused = async (buf: Buffer) =>
        checkStarterArchive(buf, limits).then(
          () => 'accepted',
          (e: Error) => e.message,
        );
      expect(await refused(await tarOf([{ name: 'out', type: 'symlink', target: '../../etc/passwd' }]))).toBe(
        'entry "out" is a symlink to "../../etc/passwd", which leads outside the archive',
      );
      expect(await refused(await tarOf([{ name: 'abs', type: 'symlink', target: '/etc/passwd' }]))).toMatch(
        /"abs" is a symlink/,
      );
      expect(await refused(await zipOf([{ name: 'zout', type: 'symlink', target: '/etc/shadow' }]))).toMatch(
        /"zout" is a symlink to "\/etc\/shadow"/,
      );
      expect(
        await refused(
          await tarOf([
            { name: 'a.txt', content: 'x' },
            { name: 'hard', type: 'link', target: 'a.txt' },
          ]),
        ),
      ).toBe('entry "hard" is a hard link: hard links are not allowed');
      expect(await refused(await tarOf([{ name: 'dev/null', type: 'character-device' }]))).toMatch(
        /"dev\/null" is a character device/,
      );
      expect(await refused(await tarOf([{ name: 'pipe', type: 'fifo' }]))).toMatch(/"pipe" is a fifo/);
      expect(await refused(await zipOf([{ name: 'zpipe', type: 'fifo' }]))).toMatch(/"zpipe" is a fifo/);
    });

    it('refuses writing through a link or a file, and a name twice', async () => {
      const refused = async (buf: Buffer) =>
        checkStarterArchive(buf, limits).then(
          () => 'accepted',
          (e: Error) => e.message,
        );
      expect(
        await refused(
          await tarOf([
            { name: 'd', type: 'symlink', target: '.' },
            { name: 'd/x', content: 'x' },
          ]),
        ),
      ).toBe('entry "d/x" lies under "d", which is a symlink');
      expect(
        await refused(
          await tarOf([
            { name: 'f', content: 'x' },
            { name: 'f', content: 'y' },
          ]),
        ),
      ).toBe('entry "f" appears more than once');
    });

    it('counts files and bytes as it reads, so bombs and big archives stop early', async () => {
      const many = Array.from({ length: 11 }, (_, i) => ({ name: `f${i}.txt`, content: 'x' }));
      await expect(checkStarterArchive(await zipOf(many), limits)).rejects.toThrow(
        'too many files: entry "f10.txt" is past the limit of 10 files',
      );
      const big = [
        { name: 'a.bin', content: Buffer.alloc(6000) },
        { name: 'b.bin', content: Buffer.alloc(6000) },
      ];
      await expect(checkStarterArchive(await tarOf(big, true), limits)).rejects.toThrow(
        'too large once extracted: at entry "b.bin" the files pass the limit of 9.8 KiB',
      );
      // A gzip bomb: 50 MB of zeros in a few KB; refused after reading about the limit, not all of it.
      const bomb = await tarOf([{ name: 'zeros', content: Buffer.alloc(50_000_000) }], true);
      expect(bomb.length).toBeLessThan(100_000);
      await expect(checkStarterArchive(bomb, limits)).rejects.toThrow(/"zeros" the files pass the limit/);
      const zipBomb = await zipOf([{ name: 'zeros', content: Buffer.alloc(50_000_000) }]);
      await expect(checkStarterArchive(zipBomb, limits)).rejects.toThrow(/"zeros" the files pass the limit/);
    });

    it('says plainly when the bytes are no archive, or a broken one', async () => {
      await expect(checkStarterArchive(Buffer.from('print("hello")\n'), limits)).rejects.toThrow(
        /^not a tar or zip archive/,
      );
      await expect(checkStarterArchive(gzipSync(Buffer.from('just text, gzipped')), limits)).rejects.toThrow(
        /^not a readable tar\.gz archive/,
      );
      const zip = await zipOf(good);
      await expect(checkStarterArchive(zip.subarray(0, zip.length - 30), limits)).rejects.toThrow(
        /^not a readable zip archive/,
      );
    });
  });
});
