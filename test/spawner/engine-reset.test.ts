import net from 'node:net';
import { rmSync } from 'node:fs';
import Docker from 'dockerode';
import { DockerSpawner, type LabSpec, type Progress, type RigTarget } from '../../spawner/src';
import { env } from '../support/services';

// Fault injection on the engine's socket: a relay in front of the real engine that lets the first
// container start through and then cuts the connection before the engine's answer reaches the
// portal — the "socket hang up" a busy engine gives. Starting is idempotent, so the spawner's one
// retry must end with the lab running, each step told once.

const deployment = `t${Date.now().toString(36)}r${process.pid}`;
const relayPath = `/tmp/riglab-reset-${process.pid}.sock`;
const engine = new Docker({ socketPath: env.dockerHost.replace('unix://', '') });
let relay: net.Server;
let cut = 0;

beforeAll(async () => {
  rmSync(relayPath, { force: true });
  relay = net.createServer((client) => {
    const upstream = net.connect(env.dockerHost.replace('unix://', ''));
    let cutThis = false;
    client.on('data', (d) => {
      if (cut === 0 && /^POST \S*\/containers\/[^/\s]+\/start/m.test(d.toString('latin1'))) {
        cut++;
        cutThis = true;
      }
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (cutThis) {
        client.destroy();
        upstream.destroy();
      } else client.write(d);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((r) => relay.listen(relayPath, r));
});

afterAll(async () => {
  const label = [`org.riglab.deployment=${deployment}`];
  for (const c of await engine.listContainers({ all: true, filters: { label } }))
    await engine.getContainer(c.Id).remove({ force: true });
  for (const v of (await engine.listVolumes({ filters: { label } })).Volumes ?? [])
    await engine.getVolume(v.Name).remove();
  for (const n of await engine.listNetworks({ filters: { label } })) await engine.getNetwork(n.Id).remove();
  await new Promise((r) => relay.close(r));
  rmSync(relayPath, { force: true });
});

it('starts the lab when the engine cuts the connection in the middle of the start', async () => {
  const rig: RigTarget = {
    id: 'rig-relay',
    name: 'relay',
    endpoint: { url: `unix://${relayPath}` },
    reach: { mode: 'bridge' },
  };
  const spec: LabSpec = {
    sessionId: 'reset',
    owner: { username: 'alice', course: 'cs101', template: 'python-basics' },
    deployment,
    image: process.env.RIGLAB_TEST_LAB_IMAGE!,
    cpuMillis: 500,
    memoryMb: 384,
    pidsLimit: 128,
    baseUrl: '/user/alice/reset/',
    token: 'tok-reset',
    gpu: null,
    home: { volume: `riglab-${deployment}-home-alice`, starterFiles: null },
  };
  const steps: Progress[] = [];
  const { handle } = await new DockerSpawner({ timeoutMs: 15_000, stopGraceSeconds: 1 }).start(rig, spec, (p) =>
    steps.push(p),
  );
  expect(cut).toBe(1);
  expect((await engine.getContainer(handle.containerId).inspect()).State.Running).toBe(true);
  const messages = steps.map((s) => s.message);
  expect(new Set(messages).size).toBe(messages.length);
  expect(messages[messages.length - 1]).toBe('Starting your lab container');
});
