import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { JobsOptions, Queue, Worker } from 'bullmq';
import { Counter } from 'prom-client';
import type Redis from 'ioredis';
import type { Config } from '../config/config';
import { CONFIG } from '../config/config.module';
import { Metrics } from '../metrics/metrics';
import { RedisService } from '../redis/redis.service';
import { JOB_HANDLER } from './job-handler.decorator';
import { buildHandlerMap, Handler } from './job-registry';
import { JOB_QUEUE, JobData, JobName, QueueName } from './jobs';

/**
 * BullMQ queues and workers. The handler map is built and checked before anything listens, so a
 * job without exactly one handler stops the boot (STYLE.md). Redis is only the work in flight:
 * handlers re-read Postgres and are safe to run twice.
 */
@Injectable()
export class QueueService implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(QueueService.name);
  private readonly queues = new Map<QueueName, Queue>();
  private readonly workers: Worker[] = [];
  private handlers = new Map<string, Handler>();
  private readonly jobsTotal: Counter<'job' | 'status'>;
  private schedulerTimer?: NodeJS.Timeout;
  private producer?: Redis;
  private scheduled = false;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly redis: RedisService,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    metrics: Metrics,
  ) {
    this.jobsTotal = new Counter({
      name: 'riglab_jobs_total',
      help: 'Background jobs finished, by job and outcome',
      labelNames: ['job', 'status'],
      registers: [metrics.registry],
    });
  }

  onModuleInit(): void {
    const found: Array<{ job: string; owner: string; handler: Handler }> = [];
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object') continue;
      const proto = Object.getPrototypeOf(instance);
      for (const method of this.scanner.getAllMethodNames(proto)) {
        const job = this.reflector.get<string | undefined>(JOB_HANDLER, proto[method]);
        if (job)
          found.push({
            job,
            owner: `${proto.constructor.name}.${method}`,
            handler: (data) => (instance[method] as Handler).call(instance, data),
          });
      }
    }
    this.handlers = buildHandlerMap(found);
    // BullMQ's connection check needs an offline queue; maxRetriesPerRequest=1 still fails fast when Redis is away.
    const producer = this.redis.create('riglab-queue', { enableOfflineQueue: true });
    this.producer = producer;
    for (const name of Object.values(QueueName)) {
      const queue = new Queue(name, { connection: producer, prefix: this.config.deployment });
      queue.on('error', () => undefined); // RedisService already reports connection trouble
      this.queues.set(name, queue);
    }
  }

  onApplicationBootstrap(): void {
    if (!this.config.runWorkers) return;
    for (const name of Object.values(QueueName)) {
      const connection = this.redis.create(`riglab-worker-${name}`, {
        maxRetriesPerRequest: null,
        enableOfflineQueue: true,
      });
      const worker = new Worker(name, (job) => this.run(job.name, job.data), {
        connection,
        prefix: this.config.deployment,
        concurrency: 4,
      });
      worker.on('error', () => undefined);
      this.workers.push(worker);
    }
    // Redis keeps no data (DESIGN.md): after it restarts the schedules are gone; register them again.
    this.producer?.on('ready', () => {
      if (this.scheduled) void this.scheduleRepeating();
    });
    void this.scheduleRepeating();
  }

  private async run(job: string, data: unknown): Promise<unknown> {
    const handler = this.handlers.get(job);
    if (!handler) throw new Error(`no handler for job '${job}'`); // cannot happen: checked at boot
    try {
      const result = await handler(data);
      this.jobsTotal.inc({ job, status: 'ok' });
      return result;
    } catch (err) {
      this.jobsTotal.inc({ job, status: 'failed' });
      this.log.warn(`job ${job} failed: ${(err as Error).message}`);
      throw err;
    }
  }

  /** Periodic jobs, (re)registered until Redis accepts them: a boot while Redis is away still schedules. */
  private async scheduleRepeating(): Promise<void> {
    const every: Array<[JobName, number]> = [
      [JobName.ProbeRigs, this.config.rigs.probeIntervalS],
      [JobName.Reconcile, this.config.labs.reconcileIntervalS],
      [JobName.CullIdle, this.config.labs.cullIntervalS],
      [JobName.MeterUsage, this.config.quota.meterIntervalS],
      [JobName.DispatchGpuQueue, this.config.quota.queueIntervalS],
      [JobName.EnforceRigDrains, this.config.rigs.drainCheckIntervalS],
      [JobName.RollupTelemetry, this.config.telemetry.rollupIntervalS],
      [JobName.ProbeTelemetry, this.config.telemetry.probeIntervalS],
      [JobName.SweepBurnIns, this.config.burnIn.sweepIntervalS],
      [JobName.ScoreRigs, this.config.reliability.intervalS],
    ];
    try {
      for (const [job, seconds] of every) {
        await this.queue(job).upsertJobScheduler(
          job,
          { every: seconds * 1000 },
          { name: job, data: {}, opts: { removeOnComplete: 100, removeOnFail: 100 } },
        );
      }
      // Level-triggered repair at boot, before the first period is up (DESIGN.md).
      await this.enqueue(JobName.Reconcile, {}, { jobId: `boot-reconcile-${Date.now()}` });
      this.scheduled = true;
    } catch {
      this.schedulerTimer = setTimeout(() => void this.scheduleRepeating(), 5000);
    }
  }

  private queue(job: JobName): Queue {
    return this.queues.get(JOB_QUEUE[job])!;
  }

  /** Adds a job; `jobId` derived from the work (e.g. `<session>.stop`; BullMQ forbids `:`) makes repeats no-ops. */
  async enqueue<N extends JobName>(job: N, data: JobData<N>, opts: JobsOptions = {}): Promise<void> {
    await this.queue(job).add(job, data, { removeOnComplete: 1000, removeOnFail: 1000, ...opts });
  }

  async onModuleDestroy(): Promise<void> {
    clearTimeout(this.schedulerTimer);
    await Promise.all(this.workers.map((w) => w.close(true).catch(() => undefined)));
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
  }
}
