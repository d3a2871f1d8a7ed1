import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';
import { projectRoot } from './project-root';

// The only file that reads process.env (STYLE.md): everything else receives a typed Config.

const postgresUrl = z
  .string({ required_error: 'is required (e.g. postgres://user:pass@127.0.0.1:5432/riglab)' })
  .url('must be a URL such as postgres://user:pass@host:5432/riglab')
  .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must start with postgres:// or postgresql://');

const redisUrl = z
  .string({ required_error: 'is required (e.g. redis://127.0.0.1:6379)' })
  .url('must be a URL such as redis://127.0.0.1:6379')
  .refine((v) => /^rediss?:\/\//.test(v), 'must start with redis:// or rediss://');

const intIn = (min: number, max: number, dflt: number) =>
  z.coerce
    .number({ invalid_type_error: `must be a whole number between ${min} and ${max}` })
    .int(`must be a whole number between ${min} and ${max}`)
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(dflt);

const bool = (dflt: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
    .default(dflt ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const envSchema = z.object({
  RIGLAB_ENV: z
    .enum(['production', 'development', 'test'], { message: 'must be production, development or test' })
    .default('production'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: intIn(1, 65535, 8000),
  PUBLIC_URL: z.string().url('must be the URL people use to reach the portal, e.g. https://lab.uni.example').optional(),
  DATABASE_URL: postgresUrl,
  REDIS_URL: redisUrl,
  SESSION_SECRET: z
    .string({ required_error: 'is required: a random string of at least 32 characters' })
    .min(32, 'must be at least 32 characters long (use: openssl rand -hex 32)'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  DEPLOYMENT_ID: z
    .string()
    .regex(/^[a-z0-9_-]{1,40}$/, 'must be 1-40 characters of a-z, 0-9, _ or -')
    .default('riglab'),
  RUN_WORKERS: bool(true),
  DEV_SIGN_IN: bool(false),
  RIG_PROBE_TIMEOUT_MS: intIn(100, 60000, 2000),
  RIG_PROBE_INTERVAL_S: intIn(5, 3600, 30),
  RIG_TLS_DIR: z.string().optional(),
  SESSION_IDLE_MINUTES: intIn(5, 7 * 24 * 60, 8 * 60),
  LAUNCH_TIMEOUT_S: intIn(10, 3600, 120),
  LAUNCH_CONCURRENCY: intIn(1, 10000, 20),
  RECONCILE_INTERVAL_S: intIn(5, 3600, 30),
  LOST_GRACE_S: intIn(0, 3600, 60),
  CULL_INTERVAL_S: intIn(5, 3600, 60),
  CULL_WARN_S: intIn(0, 3600, 300),
  HOME_STORAGE: z.enum(['local', 'nfs'], { message: 'must be local or nfs' }).default('local'),
  HOME_NFS_SERVER: z.string().optional(),
  HOME_NFS_EXPORT: z.string().optional(),
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  env: Env['RIGLAB_ENV'];
  host: string;
  port: number;
  publicUrl: string;
  databaseUrl: string;
  redisUrl: string;
  sessionSecret: string;
  logLevel: Env['LOG_LEVEL'];
  deployment: string;
  runWorkers: boolean;
  /** Password-less sign-in for demos; refused at boot outside development mode. */
  devSignIn: boolean;
  rigs: { probeTimeoutMs: number; probeIntervalS: number; tlsDir: string };
  sessionIdleMinutes: number;
  labs: {
    /** From Launch to Jupyter answering; past it the launch fails and everything it held is freed. */
    launchTimeoutS: number;
    /** Launches in flight at once, portal-wide; more get 429 + Retry-After. */
    launchConcurrency: number;
    reconcileIntervalS: number;
    /** How long a rig may be unreachable before its labs are declared lost. */
    lostGraceS: number;
    cullIntervalS: number;
    cullWarnS: number;
  };
  /** Where students' homes live: a local volume on the rig, or NFS shared by every rig. */
  homes: { storage: 'local' } | { storage: 'nfs'; server: string; exportPath: string };
  projectRoot: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`riglab configuration is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Reads the env file riglab's scripts write (.riglab/riglab.env) beneath the real environment. */
function withEnvFile(env: NodeJS.ProcessEnv, root: string): NodeJS.ProcessEnv {
  const file = env.RIGLAB_ENV_FILE ?? join(root, '.riglab', 'riglab.env');
  if (env.RIGLAB_ENV_FILE === '' || !existsSync(file)) return env;
  return { ...parseDotenv(readFileSync(file)), ...env };
}

export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const root = projectRoot();
  const env = withEnvFile(source, root);
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    // One problem per variable: the first rule it breaks says enough.
    const byVar = new Map<string, string>();
    for (const i of parsed.error.issues) {
      const name = i.path.join('.');
      if (!byVar.has(name)) byVar.set(name, `${name}: ${i.message}`);
    }
    throw new ConfigError([...byVar.values()]);
  }
  const e = parsed.data;
  if (e.HOME_STORAGE === 'nfs') {
    const missing = (['HOME_NFS_SERVER', 'HOME_NFS_EXPORT'] as const).filter((k) => !e[k]);
    if (missing.length) throw new ConfigError(missing.map((k) => `${k}: is required when HOME_STORAGE=nfs`));
  }
  if (e.DEV_SIGN_IN && e.RIGLAB_ENV !== 'development') {
    throw new ConfigError(['DEV_SIGN_IN: may only be true when RIGLAB_ENV=development']);
  }
  const tlsDir = e.RIG_TLS_DIR ?? join(root, '.riglab', 'rig-tls');
  return {
    env: e.RIGLAB_ENV,
    host: e.HOST,
    port: e.PORT,
    publicUrl: (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/$/, ''),
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    sessionSecret: e.SESSION_SECRET,
    logLevel: e.LOG_LEVEL,
    deployment: e.DEPLOYMENT_ID,
    runWorkers: e.RUN_WORKERS,
    devSignIn: e.DEV_SIGN_IN,
    rigs: {
      probeTimeoutMs: e.RIG_PROBE_TIMEOUT_MS,
      probeIntervalS: e.RIG_PROBE_INTERVAL_S,
      tlsDir: isAbsolute(tlsDir) ? tlsDir : join(root, tlsDir),
    },
    sessionIdleMinutes: e.SESSION_IDLE_MINUTES,
    labs: {
      launchTimeoutS: e.LAUNCH_TIMEOUT_S,
      launchConcurrency: e.LAUNCH_CONCURRENCY,
      reconcileIntervalS: e.RECONCILE_INTERVAL_S,
      lostGraceS: e.LOST_GRACE_S,
      cullIntervalS: e.CULL_INTERVAL_S,
      cullWarnS: e.CULL_WARN_S,
    },
    homes:
      e.HOME_STORAGE === 'nfs'
        ? { storage: 'nfs', server: e.HOME_NFS_SERVER!, exportPath: e.HOME_NFS_EXPORT! }
        : { storage: 'local' },
    projectRoot: root,
  };
}
