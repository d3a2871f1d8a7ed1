import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { existsSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { DataSource, EntityManager } from 'typeorm';
import { CONFIG } from '../../platform/config/config.module';
import type { Config } from '../../platform/config/config';
import { AppError } from '../../platform/http/app-error';
import { type LabTemplateVersion, StarterArchive } from './lab-template.entity';
import { checkStarterArchive, type CheckedArchive, StarterArchiveError } from './starter-archive';
import { materialiseStarter } from './starter-cache';
import { TemplateErrorCode } from './templates.errors';

/**
 * Where starter files come from: a folder under course-templates/, or an uploaded archive kept in
 * Postgres and extracted on demand into a cache folder named by its sha256.
 */
@Injectable()
export class StarterStore {
  private readonly log = new Logger(StarterStore.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  get templatesRoot(): string {
    return join(this.config.projectRoot, 'course-templates');
  }

  get cacheRoot(): string {
    return join(this.config.stateDir, 'starter-cache');
  }

  /** Checks an upload completely; a refusal names the entry and nothing has been stored. */
  async check(buf: Buffer): Promise<CheckedArchive> {
    try {
      return await checkStarterArchive(buf, this.config.starters);
    } catch (err) {
      if (err instanceof StarterArchiveError)
        throw new AppError(
          TemplateErrorCode.StarterArchiveInvalid,
          'invalid',
          `starter archive refused: ${err.message}`,
        );
      throw err;
    }
  }

  /** Stores a checked archive once per content (a second upload of the same bytes reuses the row). */
  async save(m: EntityManager, buf: Buffer, checked: CheckedArchive): Promise<StarterArchive> {
    await m
      .createQueryBuilder()
      .insert()
      .into(StarterArchive)
      .values({
        sha256: checked.sha256,
        bytes: buf.length,
        fileCount: checked.fileCount,
        totalBytes: String(checked.totalBytes),
        files: checked.files,
        content: buf,
      })
      .orIgnore()
      .execute();
    return m.getRepository(StarterArchive).findOneByOrFail({ sha256: checked.sha256 });
  }

  /** A starter folder named on a template must exist when the template is saved, not at launch. */
  assertFolder(folder: string | null): void {
    if (folder && !existsSync(join(this.templatesRoot, folder)))
      throw new AppError(
        TemplateErrorCode.StarterFolderMissing,
        'invalid',
        `starterFolder: there is no folder course-templates/${folder}`,
      );
  }

  /** The absolute folder to copy into a new home, extracting an uploaded archive when needed. */
  async folderOf(version: Pick<LabTemplateVersion, 'starterFiles' | 'starterArchiveId'>): Promise<string | null> {
    if (version.starterArchiveId) {
      const meta = await this.db.getRepository(StarterArchive).findOneByOrFail({ id: version.starterArchiveId });
      const ready = join(this.cacheRoot, meta.sha256);
      if (existsSync(ready)) return ready;
      const { content } = await this.db
        .getRepository(StarterArchive)
        .createQueryBuilder('a')
        .select('a.content', 'content')
        .where('a.id = :id', { id: meta.id })
        .getRawOne<{ content: Buffer }>()
        .then((r) => r!);
      // Checked again on the way out: the limits may have tightened since, and a row edited by hand
      // must not write outside the cache.
      const checked = await checkStarterArchive(content, {
        maxFiles: Number.MAX_SAFE_INTEGER,
        maxBytes: Number.MAX_SAFE_INTEGER,
      });
      const dir = await materialiseStarter(this.cacheRoot, meta.sha256, checked.entries);
      this.log.log({ sha256: meta.sha256, files: checked.fileCount, dir }, 'starter archive extracted');
      return dir;
    }
    return version.starterFiles ? join(this.templatesRoot, version.starterFiles) : null;
  }

  /** The files a student gets, with sizes, for previews. */
  async fileList(
    version: Pick<LabTemplateVersion, 'starterFiles' | 'starterArchiveId'>,
  ): Promise<Array<{ path: string; bytes: number }>> {
    if (version.starterArchiveId)
      return (await this.db.getRepository(StarterArchive).findOneByOrFail({ id: version.starterArchiveId })).files;
    if (!version.starterFiles) return [];
    const root = join(this.templatesRoot, version.starterFiles);
    const out: Array<{ path: string; bytes: number }> = [];
    const walk = async (dir: string): Promise<void> => {
      for (const name of (await readdir(dir)).sort()) {
        const abs = join(dir, name);
        const st = await lstat(abs);
        if (st.isDirectory()) await walk(abs);
        else if (st.isFile()) out.push({ path: relative(root, abs), bytes: st.size });
      }
    };
    if (existsSync(root)) await walk(root);
    return out;
  }
}
