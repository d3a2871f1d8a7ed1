import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { isAbsolute, join } from 'node:path';
import { Gauge } from 'prom-client';
import { In, Not, Repository } from 'typeorm';
import {
  EndpointError,
  EngineEndpoint,
  EngineProbe,
  parseEndpoint,
  probeEngine,
  RigTarget,
} from '../../../../spawner/src';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { AppError } from '../../platform/http/app-error';
import { Metrics } from '../../platform/metrics/metrics';
import { JobHandler } from '../../platform/queue/job-handler.decorator';
import { JobName } from '../../platform/queue/jobs';
import { ACTIVE_LAB_STATES, LabSession } from '../labs/lab-session.entity';
import { Gpu, GpuDriverKind, GpuSlot, Rig, RigTls } from './rig.entity';
import { RigErrorCode, rigNotFound } from './rigs.errors';

const RIG_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

export interface NewRig {
  name: string;
  endpoint: string;
  tls?: RigTls | null;
  cpus?: number;
  memoryMb?: number;
  driver?: GpuDriverKind;
}

export interface NewGpu {
  index: number;
  model: string;
  vramMb: number;
  deviceIds: string[];
  driver?: GpuDriverKind;
  slots?: number;
  rate?: number;
}

export type RigProbeResult = { rig: Rig } & EngineProbe;

@Injectable()
export class RigsService {
  private readonly log = new Logger(RigsService.name);
  private readonly up?: Gauge<'rig'>;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @InjectRepository(Rig) private readonly rigs: Repository<Rig>,
    @InjectRepository(LabSession) private readonly sessions: Repository<LabSession>,
    @Optional() metrics?: Metrics,
  ) {
    if (metrics) {
      this.up = new Gauge({
        name: 'riglab_rig_up',
        help: "Whether the rig's Docker engine answered the last probe",
        labelNames: ['rig'],
        // Each portal process probes on its own; a rig is up when any of them reached it last time.
        aggregator: 'max',
        registers: [metrics.registry],
      });
    }
  }

  /** The endpoint as the spawner needs it, TLS paths made absolute. */
  endpointOf(rig: Pick<Rig, 'dockerEndpoint' | 'tls'>): EngineEndpoint {
    const abs = (p: string) => (isAbsolute(p) ? p : join(this.config.rigs.tlsDir, p));
    return {
      url: rig.dockerEndpoint,
      tls: rig.tls ? { ca: abs(rig.tls.ca), cert: abs(rig.tls.cert), key: abs(rig.tls.key) } : null,
    };
  }

  /** The rig as the spawner needs it: same-host engines are reached on the lab bridge, remote ones by published port. */
  targetOf(rig: Rig): RigTarget {
    const endpoint = this.endpointOf(rig);
    const parsed = parseEndpoint(endpoint);
    return {
      id: rig.id,
      name: rig.name,
      endpoint,
      reach: parsed.kind === 'unix' ? { mode: 'bridge' } : { mode: 'publish', publishHost: parsed.host },
    };
  }

  async add(input: NewRig): Promise<Rig> {
    if (!RIG_NAME.test(input.name)) {
      throw new AppError(
        RigErrorCode.BadName,
        'invalid',
        `rig name '${input.name}' is not allowed: use 1-63 characters a-z, 0-9 or '-'`,
      );
    }
    const candidate = { dockerEndpoint: input.endpoint, tls: input.tls ?? null };
    try {
      parseEndpoint(this.endpointOf(candidate));
    } catch (err) {
      if (err instanceof EndpointError)
        throw new AppError(RigErrorCode.BadEndpoint, 'invalid', `endpoint ${err.message}`);
      throw err;
    }
    if (await this.rigs.exist({ where: { name: input.name } })) {
      throw new AppError(RigErrorCode.Exists, 'conflict', `rig '${input.name}' already exists`);
    }
    return this.rigs.save(
      this.rigs.create({
        name: input.name,
        ...candidate,
        cpuMillis: Math.round((input.cpus ?? 2) * 1000),
        memoryMb: input.memoryMb ?? 4096,
        driverKind: input.driver ?? 'none',
      }),
    );
  }

  /** Registers the rig unless one of that name exists (seeding must change nothing on a second run). */
  async ensure(input: NewRig): Promise<Rig> {
    return (await this.rigs.findOne({ where: { name: input.name } })) ?? this.add(input);
  }

  /**
   * Registers a GPU of a rig with its slots (1 = one student per GPU, the default on x1 risers).
   * Device ids are what the rig's driver passes on: an NVIDIA index or UUID, a /dev/dri render node,
   * or device paths.
   */
  async addGpu(rigName: string, input: NewGpu): Promise<Gpu> {
    const rig = await this.byName(rigName);
    const problems: string[] = [];
    if (!Number.isInteger(input.index) || input.index < 0 || input.index > 63) problems.push('index must be 0-63');
    if (!input.model.trim()) problems.push('model is required');
    if (!Number.isInteger(input.vramMb) || input.vramMb < 256) problems.push('VRAM must be at least 256 MiB');
    if (!input.deviceIds.length) problems.push('at least one device id is required');
    const slots = input.slots ?? 1;
    if (!Number.isInteger(slots) || slots < 1 || slots > 8) problems.push('slots must be 1-8');
    if (problems.length) throw new AppError(RigErrorCode.BadGpu, 'invalid', `GPU not added: ${problems.join('; ')}`);
    return this.rigs.manager.transaction(async (m) => {
      if (await m.getRepository(Gpu).exist({ where: { rigId: rig.id, index: input.index } })) {
        throw new AppError(
          RigErrorCode.Exists,
          'conflict',
          `rig '${rigName}' already has a GPU with index ${input.index}`,
        );
      }
      const gpu = await m.getRepository(Gpu).save(
        m.getRepository(Gpu).create({
          rigId: rig.id,
          index: input.index,
          model: input.model.trim(),
          vramMb: input.vramMb,
          driverKind: input.driver ?? (rig.driverKind === 'none' ? 'devices' : rig.driverKind),
          deviceIds: input.deviceIds,
          rate: String(input.rate ?? 1),
        }),
      );
      const share = (1 / slots).toFixed(3);
      for (let i = 0; i < slots; i++) await m.getRepository(GpuSlot).insert({ gpuId: gpu.id, slotIndex: i, share });
      return gpu;
    });
  }

  gpus(rigId?: string): Promise<Array<Gpu & { slots?: GpuSlot[] }>> {
    return this.rigs.manager
      .getRepository(Gpu)
      .find({ where: rigId ? { rigId } : {}, relations: { rig: true }, order: { index: 'ASC' } });
  }

  async slotUse(): Promise<Map<string, { used: number; total: number }>> {
    const rows: Array<{ gpu_id: string; used: number; total: number }> = await this.rigs.manager.query(
      `SELECT gpu_id, count(session_id)::int AS used, count(*)::int AS total FROM gpu_slots GROUP BY gpu_id`,
    );
    return new Map(rows.map((r) => [r.gpu_id, { used: r.used, total: r.total }]));
  }

  list(includeRetired = false): Promise<Rig[]> {
    return this.rigs.find({ where: includeRetired ? {} : { state: Not('retired') }, order: { name: 'ASC' } });
  }

  async byName(name: string): Promise<Rig> {
    const rig = await this.rigs.findOne({ where: { name } });
    if (!rig) throw rigNotFound(name);
    return rig;
  }

  /**
   * Removes a rig with no live labs and no history (a mistyped registration); a rig that ever ran
   * labs is retired instead, so its history stays.
   */
  async remove(name: string): Promise<Rig> {
    const rig = await this.byName(name);
    const live = await this.sessions.count({ where: { rigId: rig.id, state: In([...ACTIVE_LAB_STATES]) } });
    if (live > 0) {
      throw new AppError(
        RigErrorCode.InUse,
        'conflict',
        `rig '${name}' still runs ${live} lab(s): drain it and wait for them to stop first`,
      );
    }
    const past = await this.sessions.count({ where: { rigId: rig.id } });
    if (past > 0) {
      throw new AppError(
        RigErrorCode.HasHistory,
        'conflict',
        `rig '${name}' has run ${past} lab(s): retire it instead to keep its history (riglab rig retire ${name} --reason ...)`,
      );
    }
    await this.rigs.delete({ id: rig.id });
    return rig;
  }

  /** Probes every registered rig's engine concurrently, each within the configured timeout. */
  async probeAll(): Promise<RigProbeResult[]> {
    const rigs = await this.list();
    return Promise.all(
      rigs.map(async (rig) => {
        const probe = await probeEngine(this.endpointOf(rig), this.config.rigs.probeTimeoutMs);
        this.up?.set({ rig: rig.name }, probe.up ? 1 : 0);
        return { rig, ...probe };
      }),
    );
  }

  /** Periodic job: remember when each rig last answered and what engine it runs. */
  @JobHandler(JobName.ProbeRigs)
  async recordProbes(): Promise<{ up: number; down: number }> {
    const results = await this.probeAll();
    for (const r of results) {
      if (r.up) await this.rigs.update({ id: r.rig.id }, { lastSeenAt: new Date(), engineVersion: r.version });
      else this.log.warn(`rig ${r.rig.name} unreachable: ${r.error}`);
    }
    return { up: results.filter((r) => r.up).length, down: results.filter((r) => !r.up).length };
  }
}
