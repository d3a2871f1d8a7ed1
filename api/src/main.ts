import 'reflect-metadata';
import cluster from 'node:cluster';
import { type Config, ConfigError, loadConfig } from './platform/config/config';
import { createApp } from './platform/http/bootstrap';
import { serveClusterMetrics } from './platform/metrics/metrics';

const say = (line: string) => process.stderr.write(`${line}\n`);

/**
 * With PORTAL_PROCESSES > 1 this process only supervises: it forks that many portal processes sharing
 * the port (node:cluster), restarts one that dies, gathers their metrics, and stops them all on SIGTERM.
 * Every portal process serves the API and the notebook proxy; background jobs run in the first one.
 */
function supervise(config: Config): void {
  let stopping = false;
  const restarts: number[] = [];
  const fork = (index: number) =>
    cluster.fork({ RIGLAB_PROCESS_INDEX: String(index) }).on('exit', (code, signal) => {
      if (stopping) return;
      say(`riglab portal process ${index} exited (${signal ?? code}); starting it again`);
      const now = Date.now();
      restarts.push(now);
      while (restarts.length && restarts[0] < now - 60_000) restarts.shift();
      if (restarts.length > 5 * config.processes) {
        say('riglab portal processes keep dying; giving up (see the log above)');
        process.exit(1);
      }
      setTimeout(() => fork(index), 1000);
    });
  serveClusterMetrics();
  for (let i = 0; i < config.processes; i++) fork(i);
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
    const check = setInterval(() => {
      if (!Object.keys(cluster.workers ?? {}).length) {
        clearInterval(check);
        process.exit(0);
      }
    }, 100);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  say(`riglab portal: ${config.processes} processes on ${config.publicUrl} (${config.env})`);
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      say(err.message);
      process.exit(2);
    }
    throw err;
  }
  if (config.processes > 1 && cluster.isPrimary) return supervise(config);
  // In a cluster, only the first process runs background jobs (reconciler, culler, launches).
  if (cluster.isWorker && config.processIndex !== 0) config = { ...config, runWorkers: false };
  const app = await createApp(config);
  await app.listen(config.port, config.host);
  if (!cluster.isWorker) say(`riglab portal listening on ${config.publicUrl} (${config.env})`);
}

main().catch((err: Error) => {
  say(`riglab failed to start: ${err.message}`);
  process.exit(1);
});
