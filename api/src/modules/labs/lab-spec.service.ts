import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { GpuAssignment, LabSpec } from '../../../../spawner/src';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { Gpu, GpuSlot } from '../rigs/rig.entity';
import { TemplatesService } from '../templates/templates.service';
import { LabSession } from './lab-session.entity';
import { homeVolumeName, labBaseUrl } from './lab-runner.service';
import { tokenOf } from './lab-token';

/** Turns a placed session into what the spawner is asked for. */
@Injectable()
export class LabSpecService {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @InjectDataSource() private readonly db: DataSource,
    private readonly templates: TemplatesService,
  ) {}

  /** What the spawner is asked for: all policy decided here, none in spawner/. */
  async specOf(session: LabSession): Promise<LabSpec> {
    const version = session.templateVersion!;
    const user = session.user!;
    const course = session.course!;
    const slot = session.cpuOnly
      ? null
      : await this.db.getRepository(GpuSlot).findOne({ where: { sessionId: session.id } });
    let gpu: GpuAssignment | null = null;
    if (slot) {
      const g = await this.db.getRepository(Gpu).findOneByOrFail({ id: slot.gpuId });
      if (g.driverKind !== 'none') gpu = { driver: g.driverKind, deviceIds: g.deviceIds };
    }
    const volume = homeVolumeName(this.config.deployment, user.username, course.code, course.term);
    const homes = this.config.homes;
    return {
      sessionId: session.id,
      owner: {
        username: user.username,
        course: `${course.code}-${course.term}`,
        template: version.template?.slug ?? session.name,
      },
      deployment: this.config.deployment,
      image: version.image,
      cpuMillis: version.cpuMillis,
      memoryMb: version.memoryMb,
      pidsLimit: version.pidsLimit,
      baseUrl: labBaseUrl(user.username, session.name),
      token: tokenOf(this.config.labTokenKey, session),
      gpu,
      env: { ...(version.env ?? {}) },
      home: {
        volume,
        driverOpts:
          homes.storage === 'nfs'
            ? { type: 'nfs', o: `addr=${homes.server},rw,nfsvers=4`, device: `:${homes.exportPath}/${volume}` }
            : undefined,
        starterFiles: await this.templates.starterFolder(version),
      },
    };
  }
}
