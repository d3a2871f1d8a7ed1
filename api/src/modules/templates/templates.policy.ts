import { z } from 'zod';
import { formatBytes } from './starter-archive';
import { gpuModeOf, type GpuPolicy, type LabTemplateVersion } from './lab-template.entity';

// The rules of a lab template as an instructor writes one: one schema for the HTTP API and for
// course-templates/<slug>/template.json, so a template is valid the same way wherever it comes from.

export const SLUG_RULE = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** Docker image references: [host[:port]/]path[:tag][@sha256:digest], lower-case path. */
const IMAGE_RULE =
  /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
export const ENV_NAME_RULE = /^[A-Z_][A-Z0-9_]*$/;
/** Names the lab's own machinery sets: a template must not override them. */
const RESERVED_ENV = /^(JUPYTER_|RIGLAB_)/;
export const DRIVER_KINDS = ['nvidia', 'amd', 'devices'] as const;
export const GPU_MODES = ['none', 'whole', 'shared'] as const;

const gpuSchema = z
  .object({
    mode: z.enum(GPU_MODES, { errorMap: () => ({ message: `must be one of ${GPU_MODES.join(', ')}` }) }).optional(),
    /** template.json files written before modes existed say `required` only. */
    required: z.boolean().optional(),
    minVramMb: z.number().int().min(256, 'must be at least 256 (MiB)').max(196_608).optional(),
    models: z.array(z.string().trim().min(1).max(60)).max(40).optional(),
    driverKinds: z
      .array(z.enum(DRIVER_KINDS, { errorMap: () => ({ message: `must be one of ${DRIVER_KINDS.join(', ')}` }) }))
      .max(3)
      .optional(),
    allowCpuFallback: z.boolean().optional(),
  })
  .strict()
  .superRefine((g, ctx) => {
    const mode = g.mode ?? (g.required ? 'whole' : 'none');
    if (g.mode && g.required !== undefined && (g.mode !== 'none') !== g.required)
      ctx.addIssue({ code: 'custom', message: `required=${g.required} contradicts mode '${g.mode}'` });
    if (mode === 'shared' && !g.minVramMb)
      ctx.addIssue({ code: 'custom', path: ['minVramMb'], message: "is required with mode 'shared' (MiB of VRAM)" });
  });

export type GpuInput = z.infer<typeof gpuSchema>;

const envSchema = z
  .record(
    z
      .string()
      .max(4096, 'values are at most 4096 characters')
      .refine((v) => !v.includes('\0'), 'has a NUL'),
  )
  .superRefine((env, ctx) => {
    const names = Object.keys(env);
    if (names.length > 64) ctx.addIssue({ code: 'custom', message: 'at most 64 variables' });
    for (const n of names) {
      if (!ENV_NAME_RULE.test(n))
        ctx.addIssue({ code: 'custom', path: [n], message: 'names are A-Z, 0-9 and _, not starting with a digit' });
      else if (RESERVED_ENV.test(n))
        ctx.addIssue({ code: 'custom', path: [n], message: 'JUPYTER_* and RIGLAB_* are set by riglab itself' });
    }
  });

const starterFolderSchema = z
  .string()
  .min(1)
  .max(300)
  .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), {
    message: 'must be a folder under course-templates/, e.g. python-basics/starter (no leading / or ..)',
  });

/** Every field of a template an instructor may set; `slug` is fixed at creation. */
export const templateDraftSchema = z
  .object({
    slug: z.string().regex(SLUG_RULE, 'must be 1-63 characters a-z, 0-9 or -, starting with a letter or digit'),
    title: z.string().trim().min(1, 'must not be empty').max(200),
    description: z.string().max(5000).default(''),
    image: z.string().max(300).regex(IMAGE_RULE, 'must be a Docker image reference such as riglab/lab-python:abc123'),
    cpus: z.number().min(0.1, 'must be at least 0.1').max(64, 'must be at most 64'),
    memoryMb: z.number().int().min(128, 'must be at least 128').max(262_144, 'must be at most 262144'),
    pids: z.number().int().min(32).max(65_536).default(512),
    gpu: gpuSchema.default({ mode: 'none' }),
    idleTimeoutMinutes: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 60)
      .default(30),
    maxSessionHours: z
      .number()
      .min(0.25, 'must be at least 0.25 (15 minutes)')
      .max(24 * 14)
      .default(8),
    env: envSchema.default({}),
    starterFolder: starterFolderSchema.nullable().default(null),
  })
  .strict();

export type TemplateDraft = z.infer<typeof templateDraftSchema>;
/** An edit: any field but the slug; what is absent stays as it is. */
export const templatePatchSchema = templateDraftSchema.omit({ slug: true }).partial().strict();
export type TemplatePatch = z.infer<typeof templatePatchSchema>;

export type Checked<T> = { ok: true; value: T } | { ok: false; problems: string[] };

function check<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, input: unknown): Checked<T> {
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    return { ok: false, problems: ['the body must be a JSON object'] };
  const r = schema.safeParse(input);
  if (r.success) return { ok: true, value: r.data };
  return {
    ok: false,
    problems: r.error.issues.map((i) =>
      i.code === 'unrecognized_keys'
        ? `${[...i.path, ''].join('.')}unknown field(s): ${i.keys.join(', ')}`
        : `${i.path.join('.') || 'body'}: ${i.message}`,
    ),
  };
}

export const checkDraft = (input: unknown) => check(templateDraftSchema, input);
export const checkPatch = (input: unknown) => check(templatePatchSchema, input);

/** The GPU part of a draft as stored on a version (the contract's GpuPolicy). */
export function gpuPolicyOf(g: GpuInput): GpuPolicy {
  const mode = g.mode ?? (g.required ? 'whole' : 'none');
  if (mode === 'none') return { required: false };
  return {
    required: true,
    mode,
    ...(g.models?.length ? { models: g.models } : {}),
    ...(g.driverKinds?.length ? { driverKinds: g.driverKinds } : {}),
    ...(mode === 'shared' || g.minVramMb ? { minVramMb: g.minVramMb } : {}),
    allowCpuFallback: !!g.allowCpuFallback,
  };
}

/** The fields a version holds: what decides a student's lab. */
export interface VersionFields {
  image: string;
  cpuMillis: number;
  memoryMb: number;
  pidsLimit: number;
  gpuPolicy: GpuPolicy;
  starterFiles: string | null;
  starterArchiveId: string | null;
  idleTimeoutS: number;
  maxAgeS: number;
  env: Record<string, string>;
}

export const VERSION_FIELDS: Array<keyof VersionFields> = [
  'image',
  'cpuMillis',
  'memoryMb',
  'pidsLimit',
  'gpuPolicy',
  'starterFiles',
  'starterArchiveId',
  'idleTimeoutS',
  'maxAgeS',
  'env',
];

export function versionFieldsOf(d: Omit<TemplateDraft, 'slug' | 'title' | 'description'>): VersionFields {
  return {
    image: d.image,
    cpuMillis: Math.round(d.cpus * 1000),
    memoryMb: d.memoryMb,
    pidsLimit: d.pids,
    gpuPolicy: gpuPolicyOf(d.gpu),
    starterFiles: d.starterFolder,
    starterArchiveId: null,
    idleTimeoutS: d.idleTimeoutMinutes * 60,
    maxAgeS: Math.round(d.maxSessionHours * 3600),
    env: d.env,
  };
}

/** A version read back as a draft (without slug/title/description), so a patch can be laid over it. */
export function draftOfVersion(v: VersionFields): Omit<TemplateDraft, 'slug' | 'title' | 'description'> {
  const mode = gpuModeOf(v.gpuPolicy);
  return {
    image: v.image,
    cpus: v.cpuMillis / 1000,
    memoryMb: v.memoryMb,
    pids: v.pidsLimit,
    gpu:
      mode === 'none'
        ? { mode: 'none' }
        : {
            mode,
            models: v.gpuPolicy.models,
            driverKinds: v.gpuPolicy.driverKinds as GpuInput['driverKinds'],
            minVramMb: v.gpuPolicy.minVramMb,
            allowCpuFallback: v.gpuPolicy.allowCpuFallback,
          },
    idleTimeoutMinutes: Math.round(v.idleTimeoutS / 60),
    maxSessionHours: v.maxAgeS / 3600,
    env: v.env ?? {},
    starterFolder: v.starterFiles,
  };
}

/** Canonical JSON (sorted keys), so `{a,b}` and `{b,a}` compare equal. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v ?? null);
}

/** The fields where `next` differs from `prev` (none: the edit makes no new version). */
export function changedFields(prev: VersionFields | null, next: VersionFields): Array<keyof VersionFields> {
  if (!prev) return [...VERSION_FIELDS];
  return VERSION_FIELDS.filter((k) => canonical(prev[k]) !== canonical(next[k]));
}

/** What a student gets from a GPU policy, in words. */
export function describeGpu(p: GpuPolicy): string {
  const mode = gpuModeOf(p);
  if (mode === 'none') return 'no GPU (CPU only)';
  const what =
    mode === 'whole'
      ? 'one whole GPU'
      : `a shared GPU slot with at least ${formatBytes((p.minVramMb ?? 0) * 1024 * 1024)} of GPU memory`;
  const on = [
    p.models?.length ? `models ${p.models.join(', ')}` : null,
    p.driverKinds?.length ? `drivers ${p.driverKinds.join(', ')}` : null,
  ].filter(Boolean);
  const end = p.allowCpuFallback
    ? 'when the GPU time slice ends the lab carries on without the GPU'
    : 'when the GPU time slice ends the lab stops (files are kept)';
  return `${what}${on.length ? ` (${on.join('; ')})` : ' (any model)'}; ${end}`;
}

/** A version as the API shows it. */
export function versionView(v: LabTemplateVersion) {
  return {
    id: v.id,
    version: v.version,
    image: v.image,
    cpus: v.cpuMillis / 1000,
    memoryMb: v.memoryMb,
    pids: v.pidsLimit,
    gpu: { ...draftOfVersion(v).gpu, words: describeGpu(v.gpuPolicy) },
    idleTimeoutMinutes: Math.round(v.idleTimeoutS / 60),
    maxSessionHours: v.maxAgeS / 3600,
    env: v.env ?? {},
    starterFolder: v.starterFiles,
    starterArchive: v.starterArchive
      ? {
          id: v.starterArchive.id,
          sha256: v.starterArchive.sha256,
          fileCount: v.starterArchive.fileCount,
          totalBytes: Number(v.starterArchive.totalBytes),
        }
      : null,
    createdBy: v.createdBy,
    createdAt: v.createdAt,
  };
}
