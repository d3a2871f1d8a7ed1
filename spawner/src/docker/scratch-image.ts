import type Docker from 'dockerode';
import { Readable } from 'node:stream';
import { tarArchive, type TarEntry } from './tar';

/**
 * Makes sure an engine has `tag`, a FROM-scratch image of `entries`, importing it from a tarball
 * built in memory when missing (no registry, no build on the rig). Used for riglab's own small
 * images (telemetry probe, burn-in); `fail` turns an import error into the caller's error type.
 */
export async function ensureScratchImage(
  docker: Docker,
  tag: string,
  entries: () => TarEntry[],
  fail: (message: string) => Error,
): Promise<string> {
  try {
    await docker.getImage(tag).inspect();
    return tag;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
  }
  const [repo, version] = tag.split(':');
  const stream = await docker.importImage(Readable.from([await tarArchive(entries())]), { repo, tag: version });
  const output = await new Promise<Array<{ error?: string }>>((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null, out: Array<{ error?: string }>) =>
      err ? reject(err) : resolve(out),
    ),
  );
  const failed = output.find((o) => o.error);
  if (failed) throw fail(`importing ${tag} failed: ${failed.error}`);
  return tag;
}
