import type Docker from 'dockerode';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ensureScratchImage } from '../docker/scratch-image';

/** The probe image's repository; the tag is its recipe hash, so an unchanged recipe is never rebuilt. */
export const PROBE_IMAGE_REPO = 'riglab/probe';

/** Debian's busybox-static installs its one static binary here. */
export const DEFAULT_BUSYBOX = '/bin/busybox';

/** The busybox applets the probe script calls, linked to the one binary. */
const APPLETS = ['sh', 'cat', 'grep', 'df', 'nproc', 'timeout', 'ls', 'head', 'tr', 'test', '[', 'dmesg', 'awk'];

/**
 * probe.sh sits beside this file in the sources; compiled code (dist/spawner/src/probes) finds it
 * in the sources too, since tsc copies no assets.
 */
export function probeScriptPath(): string {
  const candidates = [
    join(__dirname, 'image', 'probe.sh'),
    join(__dirname, '..', '..', '..', '..', 'spawner', 'src', 'probes', 'image', 'probe.sh'),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`the probe script is missing (looked in ${candidates.join(', ')})`);
  return found;
}

/**
 * The C library nvidia-smi needs. The NVIDIA runtime mounts nvidia-smi and the driver's libraries
 * into a container, not glibc, so a busybox-only image could not run it; these come from the
 * portal host (x86_64 Debian paths), where present, and are in the recipe hash like every file.
 */
const GLIBC_DIR = 'lib/x86_64-linux-gnu';
const GLIBC = ['ld-linux-x86-64.so.2', 'libc.so.6', 'libm.so.6', 'libdl.so.2', 'libpthread.so.0', 'librt.so.1'];

/** Debian's ipmitool on the portal host: with the libraries it links beyond glibc, it reads a rig's BMC. */
const IPMITOOL = '/usr/bin/ipmitool';

interface ImageFile {
  path: string;
  content: Buffer;
}

/**
 * The recipe hash, the same one infra/probe-image.sh computes over the image's regular files:
 * `find . -type f | sed 's|^./||' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-12`.
 */
export function probeRecipeHash(files: ImageFile[]): string {
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const listing = [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => `${sha(f.content)}  ${f.path}\n`)
    .join('');
  return sha(Buffer.from(listing)).slice(0, 12);
}

export class ProbeImageError extends Error {}

function recipe(busyboxPath: string): { files: ImageFile[]; glibc: boolean; tag: string } {
  let busybox: Buffer;
  try {
    busybox = readFileSync(busyboxPath);
  } catch {
    throw new ProbeImageError(
      `the probe image needs a static busybox at ${busyboxPath} on the portal host (apt-get install busybox-static, or run infra/probe-image.sh)`,
    );
  }
  const files: ImageFile[] = [
    { path: 'bin/busybox', content: busybox },
    { path: 'probe.sh', content: readFileSync(probeScriptPath()) },
  ];
  // readFileSync follows links: the loader is a link into the multiarch directory on Debian.
  const glibc = GLIBC.every((f) => existsSync(`/${GLIBC_DIR}/${f}`));
  if (glibc)
    for (const f of GLIBC) files.push({ path: `${GLIBC_DIR}/${f}`, content: readFileSync(`/${GLIBC_DIR}/${f}`) });
  if (glibc) files.push(...ipmitoolFiles());
  return { files, glibc, tag: `${PROBE_IMAGE_REPO}:${probeRecipeHash(files)}` };
}

/**
 * ipmitool and the shared libraries `ldd` says it needs (glibc's own are already in the image), the
 * same files infra/probe-image.sh copies; none when the host has no ipmitool (the probe then says so).
 */
function ipmitoolFiles(): ImageFile[] {
  if (!existsSync(IPMITOOL)) return [];
  let listing: string;
  try {
    listing = execFileSync('ldd', [IPMITOOL], { encoding: 'utf8' });
  } catch {
    return [];
  }
  const libs = listing
    .split('\n')
    .map((l) => /^\s*\S+ => (\/\S+)/.exec(l)?.[1])
    .filter((p): p is string => !!p && !GLIBC.includes(basename(p)));
  return [
    { path: 'usr/bin/ipmitool', content: readFileSync(IPMITOOL) },
    ...libs.map((p) => ({ path: `${GLIBC_DIR}/${basename(p)}`, content: readFileSync(p) })),
  ];
}

/** The probe image's tag for this host's busybox and probe script, without touching any engine. */
export function probeImageTag(busyboxPath = DEFAULT_BUSYBOX): string {
  return recipe(busyboxPath).tag;
}

/**
 * Makes sure the engine has the probe image and returns its tag. A rig that lacks it gets it by
 * `docker import` of a tarball built here (FROM scratch: busybox, its applet links, probe.sh, glibc
 * for nvidia-smi, ipmitool where the host has it, and the mount points), so no registry and no build on the
 * rig are needed; about 18 MB (5 MB without ipmitool).
 */
export async function ensureProbeImage(docker: Docker, busyboxPath = DEFAULT_BUSYBOX): Promise<string> {
  const { files, glibc, tag } = recipe(busyboxPath);
  // A fixed owner and mtime keep the layer the same wherever it is built.
  const common = { uid: 0, gid: 0, mtime: new Date(0) };
  const dirs = ['bin', 'dev', 'etc', 'proc', 'sys', 'rig', 'rig/data-root', 'tmp', 'usr', 'usr/bin', 'usr/lib'];
  if (glibc) dirs.push('lib', GLIBC_DIR, 'lib64', `usr/${GLIBC_DIR}`);
  return ensureScratchImage(
    docker,
    tag,
    () => [
      ...dirs.sort().map((path) => ({ type: 'dir' as const, path, mode: 0o755, ...common })),
      ...files.map((f) => ({ type: 'file' as const, path: f.path, mode: 0o755, content: f.content, ...common })),
      ...APPLETS.map((a) => ({
        type: 'symlink' as const,
        path: `bin/${a}`,
        target: 'busybox',
        mode: 0o777,
        ...common,
      })),
      ...(glibc
        ? [
            {
              type: 'symlink' as const,
              path: 'lib64/ld-linux-x86-64.so.2',
              target: `../${GLIBC_DIR}/ld-linux-x86-64.so.2`,
              mode: 0o777,
              ...common,
            },
          ]
        : []),
    ],
    (message) => new ProbeImageError(message),
  );
}
