import type Docker from 'dockerode';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureScratchImage } from '../docker/scratch-image';
import { DEFAULT_BUSYBOX, probeRecipeHash } from '../probes/probe-image';

/** The burn-in image's repository; the tag is its recipe hash, so an unchanged recipe is never re-imported. */
export const BURNIN_IMAGE_REPO = 'riglab/burn-in';

/** The busybox applets burnin.sh calls, linked to the one binary (read, printf and [ are shell builtins). */
const APPLETS = ['sh', 'cat', 'head', 'tail', 'sha256sum', 'dd', 'cmp', 'awk', 'wc', 'rm', 'sync', 'timeout'];

export class BurnInImageError extends Error {}

/** burnin.sh sits beside this file in the sources; compiled code finds it there too (tsc copies no assets). */
function scriptPath(): string {
  const candidates = [
    join(__dirname, 'image', 'burnin.sh'),
    join(__dirname, '..', '..', '..', '..', 'spawner', 'src', 'burnin', 'image', 'burnin.sh'),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new BurnInImageError(`the burn-in script is missing (looked in ${candidates.join(', ')})`);
  return found;
}

function recipe(busyboxPath: string) {
  let busybox: Buffer;
  try {
    busybox = readFileSync(busyboxPath);
  } catch {
    throw new BurnInImageError(
      `the burn-in image needs a static busybox at ${busyboxPath} on the portal host (apt-get install busybox-static)`,
    );
  }
  const files = [
    { path: 'bin/busybox', content: busybox },
    { path: 'burnin.sh', content: readFileSync(scriptPath()) },
  ];
  return { files, tag: `${BURNIN_IMAGE_REPO}:${probeRecipeHash(files)}` };
}

/**
 * Makes sure the engine has the burn-in image and returns its tag. Built like the probe image (FROM
 * scratch: the portal host's static busybox and burnin.sh, about 2 MB, imported from memory), so
 * every rig can run burn-in without a registry, a build, or the lab image. A separate image rather
 * than the probe's: the checks need applets (dd, cmp, sha256sum) the read-only probe has no use for,
 * and changing the probe's recipe would re-import it on every rig.
 */
export async function ensureBurnInImage(docker: Docker, busyboxPath = DEFAULT_BUSYBOX): Promise<string> {
  const { files, tag } = recipe(busyboxPath);
  // A fixed owner and mtime make the same layer wherever it is built.
  const common = { uid: 0, gid: 0, mtime: new Date(0) };
  const dirs = ['bin', 'dev', 'etc', 'mem', 'proc', 'scratch', 'sys', 'tmp'];
  return ensureScratchImage(
    docker,
    tag,
    () => [
      ...dirs.map((path) => ({ type: 'dir' as const, path, mode: 0o755, ...common })),
      ...files.map((f) => ({ type: 'file' as const, path: f.path, mode: 0o755, content: f.content, ...common })),
      ...APPLETS.map((a) => ({
        type: 'symlink' as const,
        path: `bin/${a}`,
        target: 'busybox',
        mode: 0o777,
        ...common,
      })),
    ],
    (message) => new BurnInImageError(message),
  );
}
