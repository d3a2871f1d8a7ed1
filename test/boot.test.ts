import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ConfigModule } from '../api/src/platform/config/config.module';
import { MetricsModule } from '../api/src/platform/metrics/metrics.module';
import { JobHandler } from '../api/src/platform/queue/job-handler.decorator';
import { JobName } from '../api/src/platform/queue/jobs';
import { QueueModule } from '../api/src/platform/queue/queue.module';
import { RedisModule } from '../api/src/platform/redis/redis.module';
import { emptyDatabase, env, ROOT } from './support/services';
import { startPortal, testConfig } from './support/app';

const MAIN = join(ROOT, 'dist', 'api', 'src', 'main.js');
const baseEnv = {
  PATH: process.env.PATH,
  RIGLAB_ENV_FILE: '',
  REDIS_URL: env.redisUrl,
  SESSION_SECRET: 'z'.repeat(40),
  PORT: '0',
};

describe('portal boot', () => {
  it('stops with a message naming each bad variable, and exit code 2', () => {
    const r = spawnSync(process.execPath, [MAIN], {
      env: { ...baseEnv, DATABASE_URL: 'mysql://x', SESSION_SECRET: 'short' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('riglab configuration is invalid');
    expect(r.stderr).toContain('DATABASE_URL: must start with postgres:// or postgresql://');
    expect(r.stderr).toContain('SESSION_SECRET: must be at least 32 characters long');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses to serve a database whose schema is behind, saying what to run', async () => {
    const db = await emptyDatabase();
    try {
      await expect(startPortal(testConfig({ DATABASE_URL: db.url, RUN_WORKERS: 'false' }))).rejects.toThrow(
        'the database schema is behind this version of riglab: run `npx riglab migrate` first',
      );
    } finally {
      await db.drop();
    }
  });

  describe('job registry', () => {
    async function boot(...providers: Array<new (...a: never[]) => unknown>) {
      @Module({ providers })
      class Jobs {}
      const mod = await Test.createTestingModule({
        imports: [
          ConfigModule.forRoot(testConfig({ RUN_WORKERS: 'false' })),
          RedisModule,
          MetricsModule,
          QueueModule,
          Jobs,
        ],
      }).compile();
      const app = mod.createNestApplication({ logger: false });
      try {
        await app.init();
      } finally {
        await app.close();
      }
    }

    @Injectable()
    class Prober {
      @JobHandler(JobName.ProbeRigs)
      async probe() {}
    }
    @Injectable()
    class SecondProber {
      @JobHandler(JobName.ProbeRigs)
      async probeAgain() {}
    }
    @Injectable()
    class LabJobs {
      @JobHandler(JobName.LaunchLab)
      async launch() {}
      @JobHandler(JobName.StopLab)
      async stop() {}
      @JobHandler(JobName.Reconcile)
      async reconcile() {}
    }
    @Injectable()
    class Culler {
      @JobHandler(JobName.CullIdle)
      async cull() {}
    }
    @Injectable()
    class QuotaJobs {
      @JobHandler(JobName.MeterUsage)
      async meter() {}
      @JobHandler(JobName.DispatchGpuQueue)
      async dispatch() {}
      @JobHandler(JobName.ContinueOnCpu)
      async continueOnCpu() {}
    }
    @Injectable()
    class RigJobs {
      @JobHandler(JobName.RollupTelemetry)
      async rollup() {}
      @JobHandler(JobName.ProbeTelemetry)
      async probe() {}
      @JobHandler(JobName.EnforceRigDrains)
      async drains() {}
      @JobHandler(JobName.RunBurnIn)
      async burnIn() {}
      @JobHandler(JobName.SweepBurnIns)
      async sweepBurnIns() {}
      @JobHandler(JobName.ScoreRigs)
      async scoreRigs() {}
    }
    @Injectable()
    class Nobody {}

    it('boots when every job has exactly one handler', async () => {
      await expect(boot(Prober, LabJobs, Culler, QuotaJobs, RigJobs)).resolves.toBeUndefined();
    });
    it('refuses to boot when a job has no handler', async () => {
      await expect(boot(Prober, LabJobs, QuotaJobs, RigJobs, Nobody)).rejects.toThrow(
        "job registry is invalid: job 'cull-idle' has no handler",
      );
    });
    it('refuses to boot when a job has two handlers', async () => {
      await expect(boot(Prober, SecondProber, LabJobs, Culler, QuotaJobs, RigJobs)).rejects.toThrow(
        "job 'probe-rigs' has two handlers: Prober.probe and SecondProber.probeAgain",
      );
    });
  });
});
