import Docker from 'dockerode';
import { readFileSync } from 'node:fs';

/** How to reach one rig's Docker engine: a unix socket, or TCP with TLS client certificates. */
export interface EngineEndpoint {
  /** `unix:///var/run/docker.sock` or `tcp://rig7.lab.example:2376`. */
  url: string;
  /** PEM file paths; required for tcp:// (an engine on TCP without TLS is root on that host for anyone). */
  tls?: { ca: string; cert: string; key: string } | null;
}

export class EndpointError extends Error {}

/** Checks an endpoint's form without touching the network; the message names what is wrong. */
export function parseEndpoint(
  endpoint: EngineEndpoint,
): { kind: 'unix'; socketPath: string } | { kind: 'tcp'; host: string; port: number } {
  const { url } = endpoint;
  if (url.startsWith('unix://')) {
    const socketPath = url.slice('unix://'.length);
    if (!socketPath.startsWith('/'))
      throw new EndpointError(`'${url}' must name an absolute socket path, e.g. unix:///var/run/docker.sock`);
    return { kind: 'unix', socketPath };
  }
  const m = /^tcp:\/\/([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(url);
  if (m) {
    const port = Number(m[2]);
    if (port < 1 || port > 65535) throw new EndpointError(`'${url}' has an invalid port`);
    if (!endpoint.tls)
      throw new EndpointError(
        `'${url}' is TCP: give TLS client certificates (ca, cert, key); riglab never talks to a Docker engine over plain TCP`,
      );
    return { kind: 'tcp', host: m[1].replace(/^\[|\]$/g, ''), port };
  }
  throw new EndpointError(
    `'${url}' is not a Docker endpoint: use unix:///path/to/docker.sock or tcp://host:2376 with TLS`,
  );
}

/** A dockerode client for one engine. Timeouts keep a dead rig from hanging its callers. */
export function engineClient(endpoint: EngineEndpoint, timeoutMs = 30_000): Docker {
  const parsed = parseEndpoint(endpoint);
  if (parsed.kind === 'unix') return new Docker({ socketPath: parsed.socketPath, timeout: timeoutMs });
  const tls = endpoint.tls!;
  return new Docker({
    protocol: 'https',
    host: parsed.host,
    port: parsed.port,
    ca: readFileSync(tls.ca),
    cert: readFileSync(tls.cert),
    key: readFileSync(tls.key),
    timeout: timeoutMs,
  });
}

export type EngineProbe =
  | { up: true; latencyMs: number; version: string; apiVersion: string }
  | { up: false; latencyMs: number; error: string };

/** Asks the engine for its version within `timeoutMs`; never throws. */
export async function probeEngine(endpoint: EngineEndpoint, timeoutMs: number): Promise<EngineProbe> {
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  let timer: NodeJS.Timeout | undefined;
  try {
    const docker = engineClient(endpoint, timeoutMs);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const v = await Promise.race([docker.version(), timeout]);
    return { up: true, latencyMs: elapsed(), version: v.Version, apiVersion: v.ApiVersion };
  } catch (err) {
    return { up: false, latencyMs: elapsed(), error: describeEngineError(err) };
  } finally {
    clearTimeout(timer);
  }
}

/** Plain words for the usual ways an engine is unreachable. */
export function describeEngineError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  switch (e?.code) {
    case 'ENOENT':
      return 'socket not found (is the Docker engine running?)';
    case 'ECONNREFUSED':
      return 'connection refused (is the Docker engine running?)';
    case 'EACCES':
      return 'permission denied on the Docker socket';
    case 'ETIMEDOUT':
    case 'ESOCKETTIMEDOUT':
      return 'timed out';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    default:
      return e instanceof EndpointError ? e.message : (e?.message ?? String(err)).slice(0, 200);
  }
}
