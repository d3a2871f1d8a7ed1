/** `grep . FILE...` output ("path:value" per line) → value by path; a value may itself hold ':'. */
export function sysfsValues(lines: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i <= 0 || !line.startsWith('/')) continue;
    const path = line.slice(0, i);
    const value = line.slice(i + 1).trim();
    // uevent has many KEY=VALUE lines under one path: keep each as path#KEY.
    const kv = /^([A-Z_]+)=(.*)$/.exec(value);
    if (path.endsWith('/uevent') && kv) out.set(`${path}#${kv[1]}`, kv[2]);
    else out.set(path, value);
  }
  return out;
}
