import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { LabTemplate, LabTemplateVersion } from './lab-template.entity';
import type { TemplateFile } from './template-file';

@Injectable()
export class TemplatesService {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Publishes a template file for a course with the given image. A new version is written only when
   * something changed, so publishing the same file twice is a no-op.
   */
  async publish(
    courseId: string,
    file: TemplateFile,
    image: string,
    starterDir: string | null,
  ): Promise<{ template: LabTemplate; version: LabTemplateVersion; created: boolean }> {
    return this.db.transaction(async (tx) => {
      const templates = tx.getRepository(LabTemplate);
      const versions = tx.getRepository(LabTemplateVersion);
      let template = await templates.findOne({
        where: { courseId, slug: file.slug },
        lock: { mode: 'pessimistic_write' },
      });
      template ??= await templates.save(
        templates.create({ courseId, slug: file.slug, title: file.title, description: file.description }),
      );
      const wanted = {
        image,
        cpuMillis: Math.round(file.resources.cpus * 1000),
        memoryMb: file.resources.memoryMb,
        pidsLimit: file.resources.pids,
        gpuPolicy: file.gpu,
        starterFiles: starterDir,
        idleTimeoutS: file.idleTimeoutMinutes * 60,
        maxAgeS: Math.round(file.maxAgeHours * 3600),
      };
      const current = template.currentVersion
        ? await versions.findOne({ where: { templateId: template.id, version: template.currentVersion } })
        : null;
      const same =
        current &&
        (Object.keys(wanted) as Array<keyof typeof wanted>).every(
          (k) => JSON.stringify(current[k]) === JSON.stringify(wanted[k]),
        );
      if (current && same && template.published) return { template, version: current, created: false };
      const version =
        current && same
          ? current
          : await versions.save(
              versions.create({ templateId: template.id, version: (template.currentVersion ?? 0) + 1, ...wanted }),
            );
      template.currentVersion = version.version;
      template.published = true;
      template.title = file.title;
      template.description = file.description;
      await templates.save(template);
      return { template, version, created: !(current && same) };
    });
  }
}
