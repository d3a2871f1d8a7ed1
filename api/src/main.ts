import 'reflect-metadata';
import { ConfigError, loadConfig } from './platform/config/config';
import { createApp } from './platform/http/bootstrap';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const app = await createApp(config);
  await app.listen(config.port, config.host);
  process.stderr.write(`riglab portal listening on ${config.publicUrl} (${config.env})\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`riglab failed to start: ${err.message}\n`);
  process.exit(1);
});
