import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { Gauge } from 'prom-client';
import { EntityManager, In, Not, Repository } from 'typeorm';
import {
  describeEngineError,
  EndpointError,
  EngineEndpoint,
  EngineProbe,
  engineClient,
  parseEndpoint,
  ProbeError,
  probeEngine,
  RigProber,
  RigTarget,
} from '../../../../spawner/src';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { AppError } from '../../platform/http/app-error';
import { Metrics } from '../../platform/metrics/metrics';
import { JobHandler } from '../../platform/queue/job-handler.decorator';
import { JobName } from '../../platform/queue/jobs';
import { AuditService } from '../audit/audit.service';
import { ACTIVE_LAB_STATES, LabSession } from '../labs/lab-session.entity';
import {
  capacityOf,
  driverKindOf,
  EngineInfo,
  gpusToRegister,
  inventoryOf,
  MIN_CPUS,
  MIN_MEMORY_MB,
  RigInventory,
} from './rig-inventory.policy';
import { RigActor, RigStateService } from './rig-state.service';
import { Gpu, GpuDriverKind, GpuSlot, Rig, RigEvent, RigTls } from './rig.entity';
import { RigErrorCode, rigNotFound } from './rigs.errors';

const RIG_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** Words under /api/rigs/ and /rigs/ that are pages, not rigs: a rig of that name could never be opened. */
const RESERVED_NAMES = new Set(['reliability', 'burn-in', 'latest', 'new']);

export interface NewRig {
  name: string;
  endpoint: string;
  tls?: RigTls | null;
  /** Capacity labs may use; default: what discovery finds less the host reserve (RIG_RESERVE_*). */
  cpus?: number;
  memoryMb?: number;
  /** How GPUs are handed to containers; default: from the GPUs found. */
  driver?: GpuDriverKind;
  /** Register even when the engine does not answer (state `registered`, with the reason). */
  offline?: boolean;
  /** Register the GPUs found (default true). */
  gpus?: boolean;
  /** Put the rig straight into the pool with this reason (the demo seed), skipping burn-in. */
  activate?: string;
}

/** The connection test of a registration or re-discovery, as the admin is shown it. */
export interface ConnectionTest {
  ok: boolean;
  endpoint: string;
  latencyMs: number;
  version: string | null;
  apiVersion: string | null;
  /** What failed, in plain words (null when it answered). */
  error: string | null;
}

/** What a registration or re-discovery did. */
export interface Discovery {
  rig: Rig;
  connection: ConnectionTest;
  gpus: {
    added: Array<{ index: number; model: string; vramMb: number; driver: GpuDriverKind; deviceIds: string[] }>;
    /** Found but not registered, with why (VRAM not reported, --no-gpus...). */
    skipped: string[];
    /** Registered before but not found this time (a GPU that fell off the bus, a riser gone). */
    missing: number[];
  };
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

const system: RigActor = { name: 'system' };

@Injectable()
export class RigsService {
  private readonly log = new Logger(RigsService.name);
  private readonly up?: Gauge<'rig'>;

  private readonly prober = new RigProber();

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @InjectRepository(Rig) private readonly rigs: Repository<Rig>,
    @InjectRepository(LabSession) private readonly sessions: Repository<LabSession>,
    private readonly states: RigStateService,
    private readonly audit: AuditService,
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

  /**
   * Registers a rig: tests the connection first (a rig whose engine does not answer is refused, naming
   * the endpoint and what failed, unless `offline`), discovers its inventory through the engine (GET
   * /info and one run of the telemetry probe), and stores the rig in `registered` with the GPUs found,
   * one slot each. Burn-in (or `activate`) then puts it into service.
   */
  async add(input: NewRig, actor: RigActor = system): Promise<Discovery> {
    if (!RIG_NAME.test(input.name) || RESERVED_NAMES.has(input.name)) {
      throw new AppError(
        RigErrorCode.BadName,
        'invalid',
        RESERVED_NAMES.has(input.name)
          ? `rig name '${input.name}' is reserved for the portal's own pages: choose another`
          : `rig name '${input.name}' is not allowed: use 1-63 characters a-z, 0-9 or '-'`,
      );
    }
    const candidate = { dockerEndpoint: input.endpoint, tls: input.tls ?? null };
    const endpoint = this.checkedEndpoint(candidate);
    if (await this.rigs.exist({ where: { name: input.name } })) {
      throw new AppError(RigErrorCode.Exists, 'conflict', `rig '${input.name}' already exists`);
    }
    const connection = await this.testConnection(endpoint);
    if (!connection.ok && !input.offline) throw this.unreachable(input.name, connection);

    const found = connection.ok ? await this.inventory(input.name, endpoint) : null;
    if (connection.ok && !found) throw this.unreachable(input.name, connection);
    const inventory = found?.inventory ?? null;
    const given = { cpus: input.cpus, memoryMb: input.memoryMb };
    const capacity = capacityOf(given, inventory, this.config.rigs.reserve);
    const plans = inventory && input.gpus !== false ? gpusToRegister(inventory, []) : [];
    const driver = input.driver ?? driverKindOf(inventory);
    const reason = connection.ok
      ? `registered: engine answered (Docker ${inventory?.engine.version ?? connection.version}), ` +
        `${inventory?.cpus ?? '?'} CPUs, ${inventory?.memoryMb ?? '?'} MiB, ${inventory?.gpus.length ?? 0} GPU(s) found`
      : `registered offline: the engine at ${input.endpoint} did not answer (${connection.error}); ` +
        `run riglab rig inventory ${input.name} once it does`;

    const { rig, added } = await this.rigs.manager.transaction(async (m) => {
      const saved = await m.getRepository(Rig).save(
        m.getRepository(Rig).create({
          name: input.name,
          ...candidate,
          state: 'registered',
          stateReason: reason,
          cpuMillis: Math.round((capacity.cpus ?? MIN_CPUS) * 1000),
          memoryMb: capacity.memoryMb ?? Math.max(MIN_MEMORY_MB, 1024),
          capacityGiven: (['cpus', 'memoryMb'] as const).filter((k) => given[k] !== undefined),
          driverKind: driver,
          inventory,
          inventoryAt: inventory ? new Date(inventory.discoveredAt) : null,
          lastSeenAt: connection.ok ? new Date() : null,
          engineVersion: connection.ok ? connection.version : null,
        }),
      );
      await m.getRepository(RigEvent).insert({
        rigId: saved.id,
        fromState: null,
        toState: 'registered',
        reason,
        actor: actor.name,
      });
      return { rig: saved, added: await this.insertPlannedGpus(m, saved, plans) };
    });
    await this.audit.record({
      action: 'rig.add',
      actorUserId: actor.userId ?? null,
      actor: actor.name,
      targetType: 'rig',
      targetId: rig.name,
      detail: {
        endpoint: rig.dockerEndpoint,
        offline: !connection.ok,
        connection: connection.ok ? `Docker ${connection.version}` : connection.error,
        cpus: rig.cpuMillis / 1000,
        memoryMb: rig.memoryMb,
        gpus: added.map((g) => `${g.index}: ${g.model}`),
      },
      requestId: actor.requestId,
    });
    this.log.log({
      msg: 'rig registered',
      rig: rig.name,
      endpoint: rig.dockerEndpoint,
      offline: !connection.ok,
      cpus: rig.cpuMillis / 1000,
      memoryMb: rig.memoryMb,
      gpus: added.length,
    });
    const current = input.activate
      ? await this.states.change(rig.name, { to: 'active', reason: input.activate }, actor)
      : rig;
    return {
      rig: current,
      connection,
      gpus: {
        added,
        skipped: [
          ...plans.flatMap((p) => (p.ok ? [] : [p.why])),
          ...(input.gpus === false && inventory?.gpus.length
            ? [`${inventory.gpus.length} GPU(s) found but not registered (no GPUs asked)`]
            : []),
        ],
        missing: [],
      },
    };
  }

  /**
   * Discovers a registered rig's inventory again (after a hardware change, or a rig registered
   * offline): stores it, follows it with the capacities an admin did not set, and registers GPUs
   * found under a new index. Nothing changes when the engine does not answer.
   */
  async rediscover(name: string, opts: { gpus?: boolean } = {}, actor: RigActor = system): Promise<Discovery> {
    const rig = await this.byName(name);
    const endpoint = this.endpointOf(rig);
    const connection = await this.testConnection(endpoint);
    if (!connection.ok) throw this.unreachable(name, connection, 'not re-discovered');
    const found = await this.inventory(name, endpoint);
    if (!found) throw this.unreachable(name, connection, 'not re-discovered');
    const { inventory } = found;
    const given = {
      cpus: rig.capacityGiven.includes('cpus') ? rig.cpuMillis / 1000 : undefined,
      memoryMb: rig.capacityGiven.includes('memoryMb') ? rig.memoryMb : undefined,
    };
    const capacity = capacityOf(given, inventory, this.config.rigs.reserve);
    const added = await this.rigs.manager.transaction(async (m) => {
      const registered = await m.getRepository(Gpu).find({ where: { rigId: rig.id } });
      const plans =
        opts.gpus === false
          ? []
          : gpusToRegister(
              inventory,
              registered.map((g) => g.index),
            );
      await m.getRepository(Rig).update(
        { id: rig.id },
        {
          inventory,
          inventoryAt: new Date(inventory.discoveredAt),
          lastSeenAt: new Date(),
          engineVersion: connection.version,
          ...(capacity.cpus !== null ? { cpuMillis: Math.round(capacity.cpus * 1000) } : {}),
          ...(capacity.memoryMb !== null ? { memoryMb: capacity.memoryMb } : {}),
          ...(rig.driverKind === 'none' && inventory.gpus.length ? { driverKind: driverKindOf(inventory) } : {}),
        },
      );
      return {
        gpus: await this.insertPlannedGpus(m, { ...rig, driverKind: rig.driverKind }, plans),
        skipped: plans.flatMap((p) => (p.ok ? [] : [p.why])),
        missing: registered.map((g) => g.index).filter((i) => !inventory.gpus.some((g) => g.index === i)),
      };
    });
    await this.audit.record({
      action: 'rig.inventory',
      actorUserId: actor.userId ?? null,
      actor: actor.name,
      targetType: 'rig',
      targetId: name,
      detail: {
        cpus: inventory.cpus,
        memoryMb: inventory.memoryMb,
        docker: inventory.engine.version,
        gpusAdded: added.gpus.map((g) => g.index),
        gpusMissing: added.missing,
      },
      requestId: actor.requestId,
    });
    this.log.log({ msg: 'rig inventory discovered', rig: name, gpusAdded: added.gpus.length, missing: added.missing });
    return {
      rig: await this.byName(name),
      connection,
      gpus: { added: added.gpus, skipped: added.skipped, missing: added.missing },
    };
  }

  /** Does the engine answer? Its version within RIG_PROBE_TIMEOUT_MS, or what failed. */
  async testConnection(endpoint: EngineEndpoint): Promise<ConnectionTest> {
    const p = await probeEngine(endpoint, this.config.rigs.probeTimeoutMs);
    return p.up
      ? {
          ok: true,
          endpoint: endpoint.url,
          latencyMs: p.latencyMs,
          version: p.version,
          apiVersion: p.apiVersion,
          error: null,
        }
      : { ok: false, endpoint: endpoint.url, latencyMs: p.latencyMs, version: null, apiVersion: null, error: p.error };
  }

  /**
   * The engine's GET /info and one run of the telemetry probe. A probe that fails (its image cannot
   * be made, the rig is too slow) leaves disk and GPUs unknown, with why; the engine not answering
   * /info is null (the caller refuses, as for a failed connection test).
   */
  private async inventory(name: string, endpoint: EngineEndpoint): Promise<{ inventory: RigInventory } | null> {
    let info: EngineInfo;
    try {
      info = (await engineClient(endpoint, Math.max(this.config.rigs.probeTimeoutMs, 5_000)).info()) as EngineInfo;
    } catch (err) {
      this.log.warn({ msg: 'engine info failed during discovery', rig: name, error: describeEngineError(err) });
      return null;
    }
    let problem: string | null = null;
    let sample = null;
    try {
      const target: RigTarget = { id: `register-${name}`, name, endpoint, reach: { mode: 'bridge' } };
      sample = (await this.prober.probe(target)).sample;
    } catch (err) {
      // The message names the rig and the step; a bug of ours is not the admin's to read.
      problem = err instanceof ProbeError ? err.message.replace(/^rig [^:]+: /, '') : 'the probe failed unexpectedly';
      this.log.warn({ msg: 'telemetry probe failed during discovery', rig: name, error: (err as Error).message });
    }
    return { inventory: inventoryOf(info, sample, problem, new Date()) };
  }

  private unreachable(name: string, c: ConnectionTest, what = 'not registered'): AppError {
    return new AppError(
      RigErrorCode.Unreachable,
      'invalid',
      `rig '${name}' ${what}: the Docker engine at ${c.endpoint} did not answer: ${c.error ?? 'no answer to GET /info'}` +
        (what === 'not registered'
          ? ' (to register it anyway and test it later: --offline, or offline: true in the API)'
          : ''),
      undefined,
      { endpoint: c.endpoint, error: c.error },
    );
  }

  /** The endpoint, checked before anything is stored: its form, and TLS files present on the portal host. */
  private checkedEndpoint(candidate: Pick<Rig, 'dockerEndpoint' | 'tls'>): EngineEndpoint {
    const endpoint = this.endpointOf(candidate);
    try {
      parseEndpoint(endpoint);
    } catch (err) {
      if (err instanceof EndpointError)
        throw new AppError(RigErrorCode.BadEndpoint, 'invalid', `endpoint ${err.message}`);
      throw err;
    }
    if (endpoint.tls)
      for (const [what, path] of Object.entries(endpoint.tls))
        if (!existsSync(path))
          throw new AppError(
            RigErrorCode.BadEndpoint,
            'invalid',
            `TLS ${what} file ${path} does not exist on the portal host`,
          );
    return endpoint;
  }

  private async insertPlannedGpus(
    m: EntityManager,
    rig: Pick<Rig, 'id' | 'driverKind'>,
    plans: ReturnType<typeof gpusToRegister>,
  ): Promise<Discovery['gpus']['added']> {
    const added: Discovery['gpus']['added'] = [];
    for (const p of plans) {
      if (!p.ok) continue;
      // The rig's own kind wins when an admin set one ('devices' passes nodes through as they are).
      const driver: GpuDriverKind = rig.driverKind === 'none' ? p.driver : rig.driverKind;
      await this.insertGpu(m, rig.id, {
        index: p.index,
        model: p.model,
        vramMb: p.vramMb,
        deviceIds: p.deviceIds,
        driver,
      });
      added.push({ index: p.index, model: p.model, vramMb: p.vramMb, driver, deviceIds: p.deviceIds });
    }
    return added;
  }

  /** Registers the demo seed's rig (and activates it) unless one of that name exists: a second run changes nothing. */
  async ensure(input: NewRig): Promise<Rig> {
    return (await this.rigs.findOne({ where: { name: input.name } })) ?? (await this.add(input)).rig;
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
      return this.insertGpu(m, rig.id, {
        ...input,
        model: input.model.trim(),
        driver: input.driver ?? (rig.driverKind === 'none' ? 'devices' : rig.driverKind),
      });
    });
  }

  private async insertGpu(m: EntityManager, rigId: string, input: NewGpu & { driver: GpuDriverKind }): Promise<Gpu> {
    const gpu = await m.getRepository(Gpu).save(
      m.getRepository(Gpu).create({
        rigId,
        index: input.index,
        model: input.model,
        vramMb: input.vramMb,
        driverKind: input.driver,
        deviceIds: input.deviceIds,
        rate: String(input.rate ?? 1),
      }),
    );
    const slots = input.slots ?? 1;
    const share = (1 / slots).toFixed(3);
    for (let i = 0; i < slots; i++) await m.getRepository(GpuSlot).insert({ gpuId: gpu.id, slotIndex: i, share });
    return gpu;
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
