import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The folder holding riglab's package.json, found from this file whether run from source or dist/. */
export function projectRoot(start: string = __dirname): string {
  let dir = start;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'riglab') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the riglab project folder above ' + start);
    dir = parent;
  }
}
