import { createHash } from 'node:crypto';
import type Docker from 'dockerode';
import { APP, LABEL } from './container-spec';

/**
 * The lab network: one bridge per rig and deployment, made by the spawner, on which lab containers
 * live. Isolation is the rig's host firewall, keyed on the bridge's name (rig bootstrap:
 * infra/services.sh engine_start installs chain RIGLAB-LAB for every interface `rl-*`):
 *   - a lab container cannot open a connection to another lab container (bridged FORWARD, REJECT),
 *     to any service of the rig host itself (INPUT, REJECT) or to anywhere else (routed FORWARD);
 *   - the host can open connections to lab containers (OUTPUT is untouched and replies are
 *     ESTABLISHED), so the portal reaches `http://<container ip>:8888` and docker-proxy reaches
 *     published ports.
 * Why this and not Docker's own options: with `--iptables=false` engines (several per host, hermetic)
 * `--internal` removes neither the default route nor host access, and an internal network refuses
 * published ports (reach mode `publish`). We still set `enable_icc=false` and
 * `enable_ip_masquerade=false` so a rig whose dockerd manages iptables gets Docker's own ICC block
 * and no NAT out, even before its bootstrap firewall is in place.
 * Why one network per deployment and not per session: one bridge and one subnet per rig keeps the
 * engine's address pools and the host's interface count flat; the firewall already separates labs.
 */

/** Bridges with this prefix are lab bridges to the rig firewall (keep in step with engine_start). */
export const LAB_BRIDGE_PREFIX = 'rl-';

export function labNetworkName(deployment: string): string {
  return `riglab-${deployment}-lab`;
}

/**
 * Linux interface names are host-wide and at most 15 bytes, and several engines (rigs in tests,
 * several deployments) can share a host: derive the name from what identifies the engine on its
 * host (see DockerSpawner.engineId) and the deployment.
 */
export function labBridgeName(engineKey: string, deployment: string): string {
  return LAB_BRIDGE_PREFIX + createHash('sha256').update(`${engineKey}\n${deployment}`).digest('hex').slice(0, 11);
}

export class LabNetworkError extends Error {}

function isOurs(info: Docker.NetworkInspectInfo): boolean {
  const bridge = info.Options?.['com.docker.network.bridge.name'] ?? '';
  return info.Labels?.[LABEL.app] === APP && bridge.startsWith(LAB_BRIDGE_PREFIX);
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number })?.statusCode;
}

/** Finds or creates the lab network of `deployment`; safe when several starts race to create it. */
export async function ensureLabNetwork(
  docker: Docker,
  deployment: string,
  engineKey: () => Promise<string>,
): Promise<{ name: string; id: string }> {
  const name = labNetworkName(deployment);
  const existing = async (): Promise<{ name: string; id: string } | null> => {
    try {
      const info = (await docker.getNetwork(name).inspect()) as Docker.NetworkInspectInfo;
      // A network of that name that riglab did not make would not be behind the lab firewall.
      if (!isOurs(info))
        throw new LabNetworkError(
          `network ${name} exists but was not made by riglab (no ${LAB_BRIDGE_PREFIX}* bridge); remove it`,
        );
      return { name, id: info.Id };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  };
  const found = await existing();
  if (found) return found;
  try {
    const net = await docker.createNetwork({
      Name: name,
      Driver: 'bridge',
      // Without it two racing creates would make two networks of one name.
      CheckDuplicate: true,
      Labels: { [LABEL.app]: APP, [LABEL.deployment]: deployment },
      Options: {
        'com.docker.network.bridge.name': labBridgeName(await engineKey(), deployment),
        'com.docker.network.bridge.enable_icc': 'false',
        'com.docker.network.bridge.enable_ip_masquerade': 'false',
      },
    });
    return { name, id: net.id };
  } catch (err) {
    // A racing create shows up as 409 (same name) or, inside dockerd, as a 500 about the same bridge
    // name: either way the other start made the network, so use it.
    const raced = await existing();
    if (raced) return raced;
    throw err;
  }
}
