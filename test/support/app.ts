import 'reflect-metadata';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { DataSource } from 'typeorm';
import { Config, loadConfig } from '../../api/src/platform/config/config';
import { createDataSource } from '../../api/src/platform/db/data-source';
import { createApp } from '../../api/src/platform/http/bootstrap';
import { emptyDatabase, env } from './services';

/** Configuration as the portal would read it, from a plain environment (no env file). */
export function testConfig(vars: Record<string, string> = {}): Config {
  return loadConfig({
    RIGLAB_ENV_FILE: '',
    RIGLAB_ENV: 'test',
    DATABASE_URL: 'postgres://unused@127.0.0.1:1/unused',
    REDIS_URL: env.redisUrl,
    SESSION_SECRET: randomBytes(24).toString('hex'),
    LOG_LEVEL: process.env.RIGLAB_TEST_LOG_LEVEL ?? 'silent',
    DEPLOYMENT_ID: `t${process.pid}${randomBytes(3).toString('hex')}`,
    // Telemetry probes only where a test asks for them (they run containers on the test engine).
    TELEMETRY_PROBE_INTERVAL_S: '86400',
    // Burn-in runs real containers wherever a rig enters burn-in: small enough to take seconds.
    RIG_BURNIN_CPU_SECONDS: '2',
    RIG_BURNIN_MEMORY_MB: '16',
    RIG_BURNIN_DISK_MB: '16',
    ...vars,
  });
}

/** A migrated database of the test's own. */
export async function migratedDatabase(): Promise<{ url: string; ds: DataSource; drop: () => Promise<void> }> {
  const db = await emptyDatabase();
  const ds = createDataSource(db.url);
  await ds.initialize();
  await ds.runMigrations({ transaction: 'each' });
  return {
    url: db.url,
    ds,
    drop: async () => {
      await ds.destroy();
      await db.drop();
    },
  };
}

export interface TestPortal {
  app: NestExpressApplication;
  url: string;
  config: Config;
  close: () => Promise<void>;
}

/** The real portal, listening on a free loopback port. */
export async function startPortal(config: Config): Promise<TestPortal> {
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const addr = app.getHttpServer().address() as { port: number };
  return { app, url: `http://127.0.0.1:${addr.port}`, config, close: () => app.close() };
}

/** A loopback port nobody listens on right now (for portals whose URL must be known before they start). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
