import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'pg';

// Real services for tests, started by infra/test.sh; helpers here add throw-away databases, Redis
// servers and Docker engines through the same script that `npm run up` uses.

export const ROOT = join(__dirname, '..', '..');
const SERVICES = join(ROOT, 'infra', 'services.sh');

export const env = {
  pgAdminUrl: process.env.RIGLAB_TEST_PG_ADMIN_URL!,
  redisUrl: process.env.RIGLAB_TEST_REDIS_URL!,
  dockerHost: process.env.RIGLAB_TEST_DOCKER_HOST!,
};

export function services(...args: string[]): string {
  return execFileSync('bash', [SERVICES, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

let dbCounter = 0;

/** An empty database of its own for one test file; dropped by the returned function. */
export async function emptyDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `riglab_t_${process.pid}_${Date.now().toString(36)}_${dbCounter++}`;
  const admin = new Client({ connectionString: env.pgAdminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = env.pgAdminUrl.replace(/\/[^/]*$/, `/${name}`);
  return {
    url,
    drop: async () => {
      const c = new Client({ connectionString: env.pgAdminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A Redis server of a test's own, which the test may stop and start again. */
export class OwnRedis {
  constructor(
    readonly name: string,
    readonly port: number,
  ) {}
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  start(): void {
    services('redis-start', this.name, String(this.port));
  }
  stop(): void {
    services('redis-stop', this.name);
  }
}

/** A second Docker engine (a rig of its own) on its own socket and bridge. */
export class OwnEngine {
  constructor(
    readonly name: string,
    readonly bridge: string,
    readonly cidr: string,
  ) {}
  start(): string {
    return services('engine-start', this.name, this.bridge, this.cidr);
  }
  stop(): void {
    services('engine-stop', this.name);
  }
  get endpoint(): string {
    return `unix://${services('engine-sock', this.name)}`;
  }
}
