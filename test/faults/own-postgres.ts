import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { createDataSource } from '../../api/src/platform/db/data-source';

// A PostgreSQL cluster of a fault test's own (throw-away, fsync off), which the test may stop and
// start again without touching the shared one. Made as infra/services.sh pg-start makes the shared
// cluster: initdb refuses root, so it runs as the postgres user when the tests run as root.

function pgBin(name: string): string {
  const versions = execFileSync('ls', ['/usr/lib/postgresql'], { encoding: 'utf8' }).trim().split('\n');
  return join('/usr/lib/postgresql', versions.sort().pop()!, 'bin', name);
}

const isRoot = process.getuid?.() === 0;

function asPostgres(cmd: string, args: string[]): void {
  const [file, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  execFileSync(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
}

export class OwnPostgres {
  private readonly dir = mkdtempSync(join(tmpdir(), 'riglab-faults-pg-'));

  constructor(readonly port: number) {}

  get adminUrl(): string {
    return `postgres://riglab@127.0.0.1:${this.port}/postgres`;
  }

  /** Creates the cluster (first call only) and starts it. */
  start(): void {
    if (isRoot) chownSync(this.dir, uidOf('postgres'), gidOf('postgres'));
    const data = join(this.dir, 'data');
    try {
      execFileSync('test', ['-f', join(data, 'PG_VERSION')]);
    } catch {
      asPostgres(pgBin('initdb'), ['-D', data, '-U', 'riglab', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
    }
    asPostgres(pgBin('pg_ctl'), [
      '-D',
      data,
      '-l',
      join(this.dir, 'postgres.log'),
      '-w',
      '-t',
      '30',
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`,
      'start',
    ]);
  }

  /** Stops it at once, cutting every client's connection (what a crashed or restarted server does). */
  stop(): void {
    asPostgres(pgBin('pg_ctl'), ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop']);
  }

  /** A migrated database on this cluster. */
  async database(name: string): Promise<string> {
    const admin = new Client({ connectionString: this.adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = this.adminUrl.replace(/\/[^/]*$/, `/${name}`);
    const ds = createDataSource(url);
    await ds.initialize();
    await ds.runMigrations({ transaction: 'each' });
    await ds.destroy();
    return url;
  }

  /** Stops the cluster and removes its files. */
  destroy(): void {
    try {
      this.stop();
    } catch {
      // already stopped
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function uidOf(user: string): number {
  return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
}

function gidOf(user: string): number {
  return Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
}
