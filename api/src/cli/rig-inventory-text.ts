import type { Discovery } from '../modules/rigs/rigs.service';

const orUnknown = (v: number | string | null | undefined, unit = '') =>
  v === null || v === undefined ? '?' : `${v}${unit}`;

/**
 * A registration or re-discovery in lines a person reads at a terminal: the connection test first
 * (its first line is what scripts match), then what was found and what labs get.
 */
export function discoveryText(head: string, d: Discovery): string {
  const { rig, connection: c } = d;
  const lines = [
    c.ok
      ? `${head}; engine answers: Docker ${c.version} (${c.latencyMs} ms)`
      : `${head}; engine does not answer: ${c.error}`,
    `state: ${rig.state} (${rig.stateReason})`,
  ];
  const inv = rig.inventory;
  if (inv) {
    lines.push(
      `found: ${orUnknown(inv.cpus)} CPUs, ${orUnknown(inv.memoryMb, ' MiB')} memory, ` +
        `disk ${orUnknown(inv.diskFreeMb)} of ${orUnknown(inv.diskTotalMb, ' MiB')} free at ${inv.engine.dockerRootDir ?? '?'}, ` +
        `Docker ${orUnknown(inv.engine.version)} on ${inv.engine.os ?? '?'}`,
    );
    if (!inv.gpus.length) lines.push('GPUs: none found');
    for (const g of inv.gpus)
      lines.push(
        `GPU ${g.index}: ${g.model ?? 'unknown model'}, ${orUnknown(g.vramMb, ' MiB')}, ${g.driver} ${g.driverVersion ?? ''}`.trimEnd() +
          `, PCIe gen ${orUnknown(g.pcieGen)}/${orUnknown(g.pcieGenMax)} x${orUnknown(g.pcieWidth)}/${orUnknown(g.pcieWidthMax)}` +
          (d.gpus.added.some((a) => a.index === g.index) ? ' (registered, 1 slot)' : ''),
      );
    if (inv.notAvailable.length)
      lines.push(`not available: ${inv.notAvailable.map((n) => `${n.source} (${n.why})`).join('; ')}`);
  }
  lines.push(`labs may use: ${rig.cpuMillis / 1000} CPUs, ${rig.memoryMb} MiB`);
  for (const s of d.gpus.skipped) lines.push(`not registered: ${s}`);
  if (d.gpus.missing.length) lines.push(`registered but not found now: GPU ${d.gpus.missing.join(', GPU ')}`);
  return lines.join('\n');
}
