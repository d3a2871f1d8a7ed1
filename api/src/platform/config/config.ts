import { createHmac } from 'node:crypto';
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

/** A limit that may be empty, meaning "no limit". */
const optionalLimit = (min: number, max: number, dflt: string) =>
  z
    .string()
    .default(dflt)
    .transform((v, ctx) => {
      if (v.trim() === '' || v.trim() === 'none') return null;
      const n = Number(v);
      if (!Number.isFinite(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be a number between ${min} and ${max}, or empty for no limit` });
        return z.NEVER;
      }
      return n;
    });

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
  /** Key of the labs' Jupyter tokens (api/src/modules/labs/lab-token.ts); derived from SESSION_SECRET when unset. */
  LAB_TOKEN_KEY: z.string().min(32, 'must be at least 32 characters long (use: openssl rand -hex 32)').optional(),
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
  PORTAL_PROCESSES: intIn(1, 64, 1),
  /** Set by the cluster supervisor for each portal process it starts (not for people). */
  RIGLAB_PROCESS_INDEX: intIn(0, 63, 0),
  DEV_IDP: bool(false),
  SAML_IDP_METADATA_FILE: z.string().optional(),
  SAML_IDP_METADATA_URL: z.string().url('must be the https:// URL of the IdP metadata').optional(),
  SAML_IDP_METADATA_REFRESH_S: intIn(5, 7 * 24 * 3600, 3600),
  SAML_IDP_ENTITY_ID: z.string().optional(),
  SAML_IDP_SSO_URL: z.string().url('must be the URL of the IdP single sign-on service (HTTP-Redirect)').optional(),
  SAML_IDP_SLO_URL: z.string().url('must be the URL of the IdP single logout service (HTTP-Redirect)').optional(),
  SAML_IDP_CERT: z.string().optional(),
  SAML_IDP_NAME: z.string().max(80).default('your university account'),
  SAML_SP_ENTITY_ID: z.string().optional(),
  SAML_KEY_DIR: z.string().optional(),
  SAML_CLOCK_SKEW_S: intIn(0, 3600, 180),
  SAML_ATTR_USERNAME: z
    .string()
    .default('urn:oid:1.3.6.1.4.1.5923.1.1.1.6,eduPersonPrincipalName,urn:oid:0.9.2342.19200300.100.1.1,uid,nameID'),
  SAML_ATTR_DISPLAY_NAME: z.string().default('urn:oid:2.16.840.1.113730.3.1.241,displayName,cn'),
  SAML_ATTR_MAIL: z.string().default('urn:oid:0.9.2342.19200300.100.1.3,mail,email'),
  SAML_ATTR_AFFILIATION: z
    .string()
    .default(
      'urn:oid:1.3.6.1.4.1.5923.1.1.1.9,eduPersonScopedAffiliation,urn:oid:1.3.6.1.4.1.5923.1.1.1.1,eduPersonAffiliation',
    ),
  SAML_ATTR_ENTITLEMENT: z.string().default('urn:oid:1.3.6.1.4.1.5923.1.1.1.7,eduPersonEntitlement'),
  SAML_ATTR_GROUPS: z.string().default('urn:oid:1.3.6.1.4.1.5923.1.5.1.1,isMemberOf,memberOf'),
  SAML_ADMIN_ENTITLEMENTS: z.string().default(''),
  SAML_STAFF_AFFILIATIONS: z.string().default('faculty,staff,employee'),
  SAML_COURSE_PATTERN: z
    .string()
    .default('^urn:mace:[^:]+:course:(?<code>[^:]+):(?<term>[^:]+):(?<role>student|ta|instructor)$'),
  SESSION_MAX_HOURS: intIn(1, 24 * 30, 12),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters (use: openssl rand -hex 32)').optional(),
  SIGN_IN_RATE_PER_MINUTE: intIn(1, 10000, 30),
  RIG_PROBE_TIMEOUT_MS: intIn(100, 60000, 2000),
  RIG_PROBE_INTERVAL_S: intIn(5, 3600, 30),
  RIG_TLS_DIR: z.string().optional(),
  RIG_DRAIN_DEADLINE_MINUTES: intIn(0, 7 * 24 * 60, 60),
  RIG_DRAIN_CHECK_INTERVAL_S: intIn(1, 3600, 30),
  RIG_HEALTH_CLEAN_WINDOW_MINUTES: intIn(1, 7 * 24 * 60, 30),
  RIG_PROBE_FAILURES_TO_DRAIN: intIn(1, 1000, 3),
  RIG_DISK_MIN_FREE_PERCENT: intIn(0, 100, 5),
  /** What a rig's host keeps for itself when its capacity comes from discovery (registration, re-discovery). */
  RIG_RESERVE_CPUS: intIn(0, 64, 1),
  RIG_RESERVE_MEMORY_MB: intIn(0, 64 * 1024, 1024),
  RIG_BURNIN_CPU_SECONDS: intIn(1, 3600, 20),
  RIG_BURNIN_MEMORY_MB: intIn(1, 256 * 1024, 256),
  RIG_BURNIN_DISK_MB: intIn(1, 1024 * 1024, 256),
  /** The GPU stress/memory test image, already on the rigs (no registry); empty = GPU checks not available. */
  RIG_BURNIN_GPU_IMAGE: z
    .string()
    .default('')
    .refine(
      (v) => v === '' || /^[a-z0-9][a-z0-9._/:@-]{0,254}$/i.test(v),
      'must be an image reference such as lab/gpu-burn:1',
    ),
  RIG_BURNIN_CHECK_TIMEOUT_S: intIn(1, 6 * 3600, 120),
  RIG_BURNIN_SWEEP_INTERVAL_S: intIn(1, 3600, 30),
  /** Reliability scores (issue 9): the floor below which an active rig goes back to burn-in, 0-1. */
  RIG_RELIABILITY_FLOOR: z.coerce
    .number({ invalid_type_error: 'must be a number between 0 and 1, e.g. 0.9' })
    .min(0, 'must be between 0 and 1, e.g. 0.9')
    .max(1, 'must be between 0 and 1, e.g. 0.9')
    .default(0.9),
  RIG_RELIABILITY_WINDOW_DAYS: intIn(1, 90, 7),
  RIG_RELIABILITY_MIN_HOURS: intIn(0, 24 * 90, 1),
  RIG_RELIABILITY_INTERVAL_S: intIn(5, 86400, 300),
  RIG_RELIABILITY_LONG_LAB_HOURS: intIn(0, 24 * 30, 4),
  /** Per-model slowdown thresholds overriding the built-in table: `RTX 3060=90,GTX 1070=92`. */
  RIG_GPU_SLOWDOWN_C: z
    .string()
    .default('')
    .refine(
      (v) => list(v).every((x) => MODEL_TEMP.test(x)),
      'give MODEL=DEGREES pairs, e.g. "RTX 3060=90,GTX 1070=92"',
    ),
  SESSION_IDLE_MINUTES: intIn(5, 7 * 24 * 60, 8 * 60),
  LAUNCH_TIMEOUT_S: intIn(10, 3600, 120),
  LAUNCH_CONCURRENCY: intIn(1, 10000, 20),
  LAUNCH_RATE_PER_MINUTE: intIn(1, 10000, 12),
  RECONCILE_INTERVAL_S: intIn(5, 3600, 30),
  LOST_GRACE_S: intIn(0, 3600, 60),
  CULL_INTERVAL_S: intIn(5, 3600, 60),
  CULL_WARN_S: intIn(0, 3600, 300),
  QUOTA_MAX_LABS: optionalLimit(0, 100, '2'),
  QUOTA_CPU_HOURS: optionalLimit(0, 10000, ''),
  QUOTA_GPU_MINUTES: optionalLimit(0, 1000000, '120'),
  QUOTA_COURSE_POOL_GPU_MINUTES: optionalLimit(0, 100000000, ''),
  QUOTA_SLICE_MINUTES: z.coerce
    .number({ invalid_type_error: 'must be a number of minutes' })
    .min(0.05, 'must be at least 0.05 minutes')
    .max(24 * 60, 'must be at most 1440 minutes')
    .default(60),
  QUOTA_METER_INTERVAL_S: intIn(1, 300, 10),
  QUOTA_MIN_START_GPU_MINUTES: z.coerce
    .number({ invalid_type_error: 'must be a number of GPU-minutes' })
    .min(0.01, 'must be above 0')
    .max(600, 'must be at most 600')
    .default(1),
  QUOTA_DEBIT_EVERY_S: intIn(1, 3600, 60),
  QUOTA_SLICE_WARN_S: z
    .string()
    .regex(/^\s*\d+(\s*,\s*\d+)*\s*$/, 'must be seconds before the end of a slice, comma-separated, e.g. 600,120')
    .default('600,120'),
  QUOTA_USAGE_HALF_LIFE_HOURS: z.coerce
    .number({ invalid_type_error: 'must be a number of hours' })
    .min(0.001, 'must be above 0')
    .max(24 * 365, 'must be at most a year')
    .default(72),
  GPU_QUEUE_INTERVAL_S: intIn(1, 300, 3),
  TELEMETRY_RAW_HOURS: intIn(1, 24 * 14, 24),
  TELEMETRY_ROLLUP_DAYS: intIn(1, 3650, 90),
  TELEMETRY_ROLLUP_INTERVAL_S: intIn(10, 3600, 300),
  TELEMETRY_PROBE_INTERVAL_S: intIn(5, 86400, 30),
  TELEMETRY_PROBE_CONCURRENCY: intIn(1, 256, 16),
  GPU_QUEUE_MAX_WAIT_MINUTES: intIn(1, 7 * 24 * 60, 240),
  HOME_STORAGE: z.enum(['local', 'nfs'], { message: 'must be local or nfs' }).default('local'),
  HOME_NFS_SERVER: z.string().optional(),
  HOME_NFS_EXPORT: z.string().optional(),
  RIGLAB_STATE_DIR: z.string().min(1).optional(),
  STARTER_MAX_FILES: intIn(1, 1_000_000, 2000),
  STARTER_MAX_BYTES: intIn(1024, 64 * 1024 ** 3, 100 * 1024 ** 2),
  STARTER_UPLOAD_MAX_BYTES: intIn(1024, 1024 ** 3, 20 * 1024 ** 2),
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
  /** What labs' Jupyter tokens are derived from (changing it locks running labs out of their proxy). */
  labTokenKey: string;
  logLevel: Env['LOG_LEVEL'];
  deployment: string;
  runWorkers: boolean;
  /** Portal processes sharing the port (node:cluster); background jobs run in the first only. */
  processes: number;
  /** This process's place in the cluster (0 when alone). */
  processIndex: number;
  /** University sign-in (SAML 2.0 service provider) and the development IdP. */
  saml: SamlSettings;
  /** Browser sessions end after this long even when in use. */
  sessionMaxHours: number;
  /** When set, GET /metrics needs it as a Bearer token. */
  metricsToken: string | null;
  /** Sign-in attempts per client address per minute (SSO starts, ACS posts, dev IdP passwords). */
  signInRatePerMinute: number;
  rigs: {
    probeTimeoutMs: number;
    probeIntervalS: number;
    tlsDir: string;
    drainDeadlineMinutes: number;
    drainCheckIntervalS: number;
    healthCleanWindowMinutes: number;
    probeFailuresToDrain: number;
    diskMinFreePercent: number;
    gpuSlowdownC: Record<string, number>;
    /** Kept for the host out of a discovered rig's CPUs and memory. */
    reserve: { cpus: number; memoryMb: number };
  };
  sessionIdleMinutes: number;
  labs: {
    /** From Launch to Jupyter answering; past it the launch fails and everything it held is freed. */
    launchTimeoutS: number;
    /** Launches in flight at once, portal-wide; more get 429 + Retry-After. */
    launchConcurrency: number;
    /** New launches one person may make per minute (launch-stop loops); more get 429 + Retry-After. */
    launchRatePerMinute: number;
    reconcileIntervalS: number;
    /** How long a rig may be unreachable before its labs are declared lost. */
    lostGraceS: number;
    cullIntervalS: number;
    cullWarnS: number;
  };
  /** Course quotas when a course sets none, and how they are enforced (issue 8). */
  quota: {
    defaults: {
      maxConcurrentLabs: number | null;
      cpuHoursPerWeek: number | null;
      gpuMinutesPerWeek: number | null;
      coursePoolGpuMinutesPerWeek: number | null;
      sliceMinutes: number;
    };
    /** A GPU lab is not started with less than this many GPU-minutes left. */
    minStartGpuMinutes: number;
    /** How often running labs are metered into the ledger and budgets and slices enforced. */
    meterIntervalS: number;
    /** A running lab's usage is written to the ledger at least this often (and when it ends). */
    debitEveryS: number;
    /** Warnings before a GPU slice ends, in seconds. */
    sliceWarnS: number[];
    usageHalfLifeMs: number;
    queueIntervalS: number;
    queueMaxWaitS: number;
  };
  /** Rig telemetry: raw samples kept this long, five-minute rollups that long, rolled up this often. */
  telemetry: {
    rawHours: number;
    rollupDays: number;
    rollupIntervalS: number;
    probeIntervalS: number;
    /** Rigs probed at once: the waiting is on the rigs' engines, so a round of 500 rigs needs more than a few. */
    probeConcurrency: number;
  };
  /** The burn-in self-test a rig runs on entering `burn-in` (issue 9): sizes, GPU image, time budget. */
  burnIn: {
    cpuSeconds: number;
    memoryMb: number;
    diskMb: number;
    gpuImage: string | null;
    checkTimeoutS: number;
    /** How often runs nobody executes (asked from the CLI, interrupted by a restart) are picked up. */
    sweepIntervalS: number;
  };
  /** Reliability scores of rigs and GPUs (issue 9): how they are measured, the floor, what placement does with them. */
  reliability: {
    floor: number;
    windowDays: number;
    /** Complete hours of probes a rig needs in its window before it is judged against the floor. */
    minHours: number;
    intervalS: number;
    /** Labs whose longest session is above this many hours prefer reliable rigs (GPU labs always do). */
    longLabHours: number;
  };
  /** Where students' homes live: a local volume on the rig, or NFS shared by every rig. */
  homes: { storage: 'local' } | { storage: 'nfs'; server: string; exportPath: string };
  projectRoot: string;
  /** Where riglab keeps local state (RIGLAB_STATE_DIR, default .riglab): caches such as extracted starters. */
  stateDir: string;
  /** Limits on uploaded starter archives: files, bytes once extracted, bytes of the upload itself. */
  starters: { maxFiles: number; maxBytes: number; uploadMaxBytes: number };
}

export type IdpSource =
  | { source: 'metadata-file'; path: string }
  | { source: 'metadata-url'; url: string }
  | { source: 'explicit'; entityId: string; ssoUrl: string; sloUrl?: string; certs: string[] }
  /** The development IdP built into the portal (DEV_IDP=true, development and test only). */
  | { source: 'dev' }
  | { source: 'none' };

export interface SamlSettings {
  idp: IdpSource;
  /** Shown on the sign-in button: "Sign in with …". */
  idpName: string;
  spEntityId: string;
  /** The SP's (and the development IdP's) key pairs, generated at first start when absent. */
  keyDir: string;
  clockSkewMs: number;
  /** How often IdP metadata from a URL or file is read again (certificate rollover without a restart). */
  metadataRefreshMs: number;
  /** Attribute names tried in order (URI names first, friendly names after). */
  attributes: Record<'username' | 'displayName' | 'mail' | 'affiliation' | 'entitlement' | 'groups', string[]>;
  adminEntitlements: string[];
  staffAffiliations: string[];
  /** Matches course group values; named groups code, term and role. */
  coursePattern: RegExp;
}

const MODEL_TEMP = /^[^=]+=\d{2,3}$/;
/** `RTX 3060=90,GTX 1070=92` (validated by the schema) as a model → degrees map. */
const modelTemps = (v: string): Record<string, number> =>
  Object.fromEntries(list(v).map((x) => [x.split('=')[0].trim(), Number(x.split('=')[1])]));

const list = (v: string) =>
  v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** Certificates from SAML_IDP_CERT: PEM blocks, bare base64, or files holding them; comma-separated. */
function certificates(value: string, root: string): string[] {
  const out: string[] = [];
  for (const item of list(value)) {
    const file = isAbsolute(item) ? item : join(root, item);
    const text =
      /^[A-Za-z0-9+/=\s]+$/.test(item) && item.length > 200
        ? item
        : existsSync(file)
          ? readFileSync(file, 'utf8')
          : item;
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
    for (const b of blocks ?? [text]) {
      const body = b.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/]+=*$/.test(body) || body.length < 200) {
        throw new ConfigError([
          `SAML_IDP_CERT: '${item.slice(0, 40)}' is neither a PEM certificate, base64 nor a readable file`,
        ]);
      }
      out.push(body);
    }
  }
  return out;
}

function samlSettings(e: Env, root: string, publicUrl: string): SamlSettings {
  const problems: string[] = [];
  const explicit = (['SAML_IDP_ENTITY_ID', 'SAML_IDP_SSO_URL', 'SAML_IDP_CERT'] as const).filter((k) => e[k]);
  let idp: IdpSource = { source: 'none' };
  if (e.SAML_IDP_METADATA_FILE) {
    const path = isAbsolute(e.SAML_IDP_METADATA_FILE) ? e.SAML_IDP_METADATA_FILE : join(root, e.SAML_IDP_METADATA_FILE);
    if (!existsSync(path)) problems.push(`SAML_IDP_METADATA_FILE: no such file: ${e.SAML_IDP_METADATA_FILE}`);
    idp = { source: 'metadata-file', path };
  } else if (e.SAML_IDP_METADATA_URL) {
    idp = { source: 'metadata-url', url: e.SAML_IDP_METADATA_URL };
  } else if (explicit.length) {
    const missing = (['SAML_IDP_ENTITY_ID', 'SAML_IDP_SSO_URL', 'SAML_IDP_CERT'] as const).filter((k) => !e[k]);
    for (const k of missing)
      problems.push(`${k}: is required with ${explicit.join(', ')} (or give SAML_IDP_METADATA_FILE/URL)`);
    if (!missing.length)
      idp = {
        source: 'explicit',
        entityId: e.SAML_IDP_ENTITY_ID!,
        ssoUrl: e.SAML_IDP_SSO_URL!,
        sloUrl: e.SAML_IDP_SLO_URL,
        certs: certificates(e.SAML_IDP_CERT!, root),
      };
  } else if (e.DEV_IDP) {
    idp = { source: 'dev' };
  }
  if (e.DEV_IDP && e.RIGLAB_ENV === 'production') {
    problems.push('DEV_IDP: the development identity provider may only run with RIGLAB_ENV=development or test');
  }
  let coursePattern = /^$/;
  try {
    coursePattern = new RegExp(e.SAML_COURSE_PATTERN);
    const names = Object.keys(new RegExp(`${e.SAML_COURSE_PATTERN}|(?<z>)`).exec('')?.groups ?? {});
    const lacking = ['code', 'term', 'role'].filter((n) => !names.includes(n));
    if (lacking.length)
      problems.push(
        `SAML_COURSE_PATTERN: needs the named groups (?<code>…), (?<term>…) and (?<role>…); missing ${lacking.join(', ')}`,
      );
  } catch (err) {
    problems.push(`SAML_COURSE_PATTERN: not a valid regular expression (${(err as Error).message})`);
  }
  if (problems.length) throw new ConfigError(problems);
  const keyDir = e.SAML_KEY_DIR ?? join(root, '.riglab', 'saml');
  return {
    idp,
    idpName: e.SAML_IDP_NAME,
    spEntityId: e.SAML_SP_ENTITY_ID ?? `${publicUrl}/auth/saml/metadata`,
    keyDir: isAbsolute(keyDir) ? keyDir : join(root, keyDir),
    clockSkewMs: e.SAML_CLOCK_SKEW_S * 1000,
    metadataRefreshMs: e.SAML_IDP_METADATA_REFRESH_S * 1000,
    attributes: {
      username: list(e.SAML_ATTR_USERNAME),
      displayName: list(e.SAML_ATTR_DISPLAY_NAME),
      mail: list(e.SAML_ATTR_MAIL),
      affiliation: list(e.SAML_ATTR_AFFILIATION),
      entitlement: list(e.SAML_ATTR_ENTITLEMENT),
      groups: list(e.SAML_ATTR_GROUPS),
    },
    adminEntitlements: list(e.SAML_ADMIN_ENTITLEMENTS),
    staffAffiliations: list(e.SAML_STAFF_AFFILIATIONS).map((a) => a.toLowerCase()),
    coursePattern,
  };
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
  // A budget shorter than the CPU check's own run would fail every burn-in.
  if (e.RIG_BURNIN_CHECK_TIMEOUT_S <= e.RIG_BURNIN_CPU_SECONDS)
    throw new ConfigError([
      `RIG_BURNIN_CHECK_TIMEOUT_S: must be longer than RIG_BURNIN_CPU_SECONDS (${e.RIG_BURNIN_CPU_SECONDS} s, how long the CPU check runs)`,
    ]);
  const publicUrl = (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/$/, '');
  const tlsDir = e.RIG_TLS_DIR ?? join(root, '.riglab', 'rig-tls');
  return {
    env: e.RIGLAB_ENV,
    host: e.HOST,
    port: e.PORT,
    publicUrl,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    sessionSecret: e.SESSION_SECRET,
    labTokenKey: e.LAB_TOKEN_KEY ?? createHmac('sha256', e.SESSION_SECRET).update('riglab lab token key').digest('hex'),
    logLevel: e.LOG_LEVEL,
    deployment: e.DEPLOYMENT_ID,
    runWorkers: e.RUN_WORKERS,
    processes: e.PORTAL_PROCESSES,
    processIndex: e.RIGLAB_PROCESS_INDEX,
    saml: samlSettings(e, root, publicUrl),
    sessionMaxHours: e.SESSION_MAX_HOURS,
    signInRatePerMinute: e.SIGN_IN_RATE_PER_MINUTE,
    metricsToken: e.METRICS_TOKEN ?? null,
    rigs: {
      probeTimeoutMs: e.RIG_PROBE_TIMEOUT_MS,
      probeIntervalS: e.RIG_PROBE_INTERVAL_S,
      drainDeadlineMinutes: e.RIG_DRAIN_DEADLINE_MINUTES,
      drainCheckIntervalS: e.RIG_DRAIN_CHECK_INTERVAL_S,
      healthCleanWindowMinutes: e.RIG_HEALTH_CLEAN_WINDOW_MINUTES,
      probeFailuresToDrain: e.RIG_PROBE_FAILURES_TO_DRAIN,
      diskMinFreePercent: e.RIG_DISK_MIN_FREE_PERCENT,
      gpuSlowdownC: modelTemps(e.RIG_GPU_SLOWDOWN_C),
      reserve: { cpus: e.RIG_RESERVE_CPUS, memoryMb: e.RIG_RESERVE_MEMORY_MB },
      tlsDir: isAbsolute(tlsDir) ? tlsDir : join(root, tlsDir),
    },
    sessionIdleMinutes: e.SESSION_IDLE_MINUTES,
    labs: {
      launchTimeoutS: e.LAUNCH_TIMEOUT_S,
      launchConcurrency: e.LAUNCH_CONCURRENCY,
      launchRatePerMinute: e.LAUNCH_RATE_PER_MINUTE,
      reconcileIntervalS: e.RECONCILE_INTERVAL_S,
      lostGraceS: e.LOST_GRACE_S,
      cullIntervalS: e.CULL_INTERVAL_S,
      cullWarnS: e.CULL_WARN_S,
    },
    quota: {
      defaults: {
        maxConcurrentLabs: e.QUOTA_MAX_LABS,
        cpuHoursPerWeek: e.QUOTA_CPU_HOURS,
        gpuMinutesPerWeek: e.QUOTA_GPU_MINUTES,
        coursePoolGpuMinutesPerWeek: e.QUOTA_COURSE_POOL_GPU_MINUTES,
        sliceMinutes: e.QUOTA_SLICE_MINUTES,
      },
      meterIntervalS: e.QUOTA_METER_INTERVAL_S,
      minStartGpuMinutes: e.QUOTA_MIN_START_GPU_MINUTES,
      debitEveryS: e.QUOTA_DEBIT_EVERY_S,
      sliceWarnS: list(e.QUOTA_SLICE_WARN_S).map(Number),
      usageHalfLifeMs: e.QUOTA_USAGE_HALF_LIFE_HOURS * 3_600_000,
      queueIntervalS: e.GPU_QUEUE_INTERVAL_S,
      queueMaxWaitS: e.GPU_QUEUE_MAX_WAIT_MINUTES * 60,
    },
    telemetry: {
      rawHours: e.TELEMETRY_RAW_HOURS,
      rollupDays: e.TELEMETRY_ROLLUP_DAYS,
      rollupIntervalS: e.TELEMETRY_ROLLUP_INTERVAL_S,
      probeIntervalS: e.TELEMETRY_PROBE_INTERVAL_S,
      probeConcurrency: e.TELEMETRY_PROBE_CONCURRENCY,
    },
    burnIn: {
      cpuSeconds: e.RIG_BURNIN_CPU_SECONDS,
      memoryMb: e.RIG_BURNIN_MEMORY_MB,
      diskMb: e.RIG_BURNIN_DISK_MB,
      gpuImage: e.RIG_BURNIN_GPU_IMAGE || null,
      checkTimeoutS: e.RIG_BURNIN_CHECK_TIMEOUT_S,
      sweepIntervalS: e.RIG_BURNIN_SWEEP_INTERVAL_S,
    },
    reliability: {
      floor: e.RIG_RELIABILITY_FLOOR,
      windowDays: e.RIG_RELIABILITY_WINDOW_DAYS,
      minHours: e.RIG_RELIABILITY_MIN_HOURS,
      intervalS: e.RIG_RELIABILITY_INTERVAL_S,
      longLabHours: e.RIG_RELIABILITY_LONG_LAB_HOURS,
    },
    homes:
      e.HOME_STORAGE === 'nfs'
        ? { storage: 'nfs', server: e.HOME_NFS_SERVER!, exportPath: e.HOME_NFS_EXPORT! }
        : { storage: 'local' },
    projectRoot: root,
    stateDir: isAbsolute(e.RIGLAB_STATE_DIR ?? '.riglab')
      ? e.RIGLAB_STATE_DIR!
      : join(root, e.RIGLAB_STATE_DIR ?? '.riglab'),
    starters: {
      maxFiles: e.STARTER_MAX_FILES,
      maxBytes: e.STARTER_MAX_BYTES,
      uploadMaxBytes: e.STARTER_UPLOAD_MAX_BYTES,
    },
  };
}
