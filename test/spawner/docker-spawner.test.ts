import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import {
  DockerSpawner,
  SpawnError,
  engineClient,
  labNetworkName,
  type LabSpec,
  type Progress,
  type RigTarget,
  type SpawnHandle,
} from '../../spawner/src';
import { OwnEngine, ROOT, env } from '../support/services';

// The Docker driver against real engines: `local` (the engine `npm test` runs) in bridge mode, and a
// second engine of this file's own in publish mode. Everything made here carries this run's own
// deployment label and is removed by label at the end, containers and volumes alike.

const deployment = `t${Date.now().toString(36)}${process.pid}`;
const stateDir = process.env.RIGLAB_STATE_DIR || join(ROOT, '.riglab');
const ownEngine = new OwnEngine('spawner-rig', 'riglab8', '172.31.248.1/24');

const localRig: RigTarget = {
  id: 'rig-local',
  name: 'local',
  endpoint: { url: env.dockerHost },
  reach: { mode: 'bridge' },
};
let ownRig: RigTarget;
let startedOwnEngine = false;
let image = '';
let starter = '';
const devices = [`/tmp/riglab-${deployment}-gpu0`, `/tmp/riglab-${deployment}-gpu1`];
const spawner = new DockerSpawner({ timeoutMs: 15_000, stopGraceSeconds: 3 });
const timings: Record<string, number> = {};

function spec(session: string, over: Partial<LabSpec> = {}): LabSpec {
  return {
    sessionId: session,
    owner: { username: 'alice', course: 'cs101', template: 'python-basics' },
    deployment,
    image,
    cpuMillis: 500,
    memoryMb: 384,
    pidsLimit: 128,
    baseUrl: `/user/alice/${session}/`,
    token: `tok-${session}-${Math.random().toString(36).slice(2)}`,
    gpu: null,
    home: { volume: `riglab-${deployment}-home-alice`, starterFiles: starter },
    ...over,
  };
}

function httpStatus(url: string, headers: Record<string, string> = {}, timeoutMs = 2000): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Polls Jupyter's API (not TCP: docker-proxy accepts before Jupyter listens) until it answers 200. */
async function waitForJupyter(url: string, s: LabSpec, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await httpStatus(`${url}${s.baseUrl}api/status`, { Authorization: `token ${s.token}` }).catch(
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`Jupyter at ${url} not ready within ${timeoutMs} ms (last ${status})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function run(docker: Docker, containerId: string, cmd: string[]): Promise<{ code: number; out: string }> {
  const exec = await docker.getContainer(containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on('data', (b: Buffer) => chunks.push(b));
  docker.modem.demuxStream(stream, sink, sink);
  await new Promise((r) => stream.on('end', r));
  stream.destroy(); // the hijacked socket would otherwise keep Jest alive after the run
  const { ExitCode } = await exec.inspect();
  return { code: ExitCode ?? -1, out: Buffer.concat(chunks).toString('utf8') };
}

const PROBE = `import socket,sys
try:
  socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close(); print("OPEN")
except OSError as e:
  print("BLOCKED errno", e.errno)`;

/** What a TCP connection attempt from inside a lab gives: OPEN, or BLOCKED with the errno. */
async function probeFrom(docker: Docker, containerId: string, host: string, port: number): Promise<string> {
  return (await run(docker, containerId, ['python3', '-c', PROBE, host, String(port)])).out.trim();
}

async function cleanUp(docker: Docker): Promise<void> {
  const label = [`org.riglab.deployment=${deployment}`];
  for (const c of await docker.listContainers({ all: true, filters: { label } }))
    await docker.getContainer(c.Id).remove({ force: true });
  for (const v of (await docker.listVolumes({ filters: { label } })).Volumes ?? [])
    await docker.getVolume(v.Name).remove();
  for (const n of await docker.listNetworks({ filters: { label } })) await docker.getNetwork(n.Id).remove();
}

/** The lab image on a rig that lacks it, the way an operator moves it: `docker save | docker load`. */
async function copyImage(from: Docker, to: Docker, tag: string): Promise<void> {
  const exists = await to
    .getImage(tag)
    .inspect()
    .then(() => true)
    .catch(() => false);
  if (exists) return;
  const tar = await from.getImage(tag).get();
  const out = await to.loadImage(tar);
  await new Promise((resolve, reject) => {
    out.on('end', resolve);
    out.on('error', reject);
    out.resume();
  });
}

function engineRunning(name: string): boolean {
  const pidFile = join(stateDir, 'engines', name, 'dockerd.pid');
  try {
    process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 0);
    return true;
  } catch {
    return false;
  }
}

const local = () => engineClient(localRig.endpoint);
const own = () => engineClient(ownRig.endpoint);

beforeAll(async () => {
  startedOwnEngine = !engineRunning(ownEngine.name);
  // engine-start also installs the rig's lab firewall (chain RIGLAB-LAB), which is per host.
  ownRig = {
    id: 'rig-own',
    name: 'spawner-rig',
    endpoint: { url: ownEngine.start() },
    reach: { mode: 'publish', publishHost: '127.0.0.1' },
  };
  // Prints the tag at once when the image exists; builds it otherwise (minutes, first run only).
  image = execFileSync('bash', [join(ROOT, 'infra', 'lab-image.sh')], {
    encoding: 'utf8',
    env: { ...process.env, DOCKER_HOST: env.dockerHost },
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  const t0 = Date.now();
  await copyImage(local(), own(), image);
  timings.imageToSecondRigMs = Date.now() - t0;

  starter = mkdtempSync(join(tmpdir(), 'riglab-starter-'));
  writeFileSync(join(starter, 'welcome.ipynb'), '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n');
  mkdirSync(join(starter, 'data'));
  writeFileSync(join(starter, 'data', 'numbers.csv'), 'n\n1\n2\n3\n');
  writeFileSync(join(starter, 'run.sh'), '#!/bin/sh\necho hello\n', { mode: 0o755 });
  // Stand-ins for GPU nodes: character devices like /dev/null (1,3) and /dev/zero (1,5).
  execFileSync('mknod', ['-m', '666', devices[0], 'c', '1', '3']);
  execFileSync('mknod', ['-m', '666', devices[1], 'c', '1', '5']);
}, 900_000);

afterAll(async () => {
  await cleanUp(local()).catch((e) => console.error('clean-up of local failed', e));
  if (ownRig) await cleanUp(own()).catch((e) => console.error('clean-up of spawner-rig failed', e));
  for (const d of devices) rmSync(d, { force: true });
  if (starter) rmSync(starter, { recursive: true, force: true });
  if (startedOwnEngine) ownEngine.stop();
  console.log(`spawner timings (ms): ${JSON.stringify(timings)}`);
}, 60_000);

describe(DockerSpawner.name, () => {
  let a: LabSpec;
  let cSpec: LabSpec;
  let dSpec: LabSpec;
  beforeAll(() => {
    // Built here, not at collection time: the image tag and starter folder come from the outer beforeAll.
    a = spec('a');
    cSpec = spec('c', {
      gpu: { driver: 'devices', deviceIds: [devices[0]] },
      home: { volume: `riglab-${deployment}-home-carol` },
    });
    dSpec = spec('d', {
      gpu: { driver: 'devices', deviceIds: [devices[1]] },
      home: { volume: `riglab-${deployment}-home-dan` },
    });
  });
  let aHandle: SpawnHandle;
  let aUrl: string;

  it('starts a lab whose Jupyter answers with its token and refuses without it', async () => {
    const progress: Progress[] = [];
    const t0 = Date.now();
    ({ handle: aHandle, url: aUrl } = await spawner.start(localRig, a, (p) => progress.push(p)));
    timings.startMs = Date.now() - t0;
    await waitForJupyter(aUrl, a);
    timings.startToJupyterReadyMs = Date.now() - t0;

    expect(aHandle).toMatchObject({ rigId: 'rig-local', containerName: `riglab-${deployment}-a` });
    expect(aUrl).toMatch(/^http:\/\/\d+\.\d+\.\d+\.\d+:8888$/);
    expect(await httpStatus(`${aUrl}${a.baseUrl}api/status`, { Authorization: `token ${a.token}` })).toBe(200);
    expect(await httpStatus(`${aUrl}${a.baseUrl}api/status`)).toBe(403);
    expect(await httpStatus(`${aUrl}${a.baseUrl}api/status`, { Authorization: 'token wrong' })).toBe(403);
    expect(progress.map((p) => p.message)).toEqual([
      'Checking the lab image on rig local',
      'Preparing your home folder',
      'Creating your lab container',
      'Copying the starter files into your home folder',
      'Starting your lab container',
    ]);
    expect(progress.map((p) => p.progress)).toEqual([...progress.map((p) => p.progress)].sort((x, y) => x - y));
    expect(await spawner.poll(localRig, aHandle)).toEqual({ state: 'running' });
  });

  it('finds the same container when a session is started again, even concurrently', async () => {
    const again = await spawner.start(localRig, a);
    expect(again).toEqual({ handle: aHandle, url: aUrl });
    const b = spec('b', { home: { volume: `riglab-${deployment}-home-bob` } });
    const [b1, b2] = await Promise.all([spawner.start(localRig, b), spawner.start(localRig, b)]);
    expect(b1.handle.containerId).toBe(b2.handle.containerId);
    const sessions = (await spawner.list(localRig, deployment)).map((c) => c.sessionId).sort();
    expect(sessions).toEqual(['a', 'b']);
    await spawner.remove(localRig, b1.handle);
  });

  it('applies the limits and drops every privilege', async () => {
    const info = await local().getContainer(aHandle.containerId).inspect();
    const h = info.HostConfig;
    expect(h.Memory).toBe(384 * 1024 * 1024);
    expect(h.MemorySwap).toBe(384 * 1024 * 1024);
    expect(h.NanoCpus).toBe(500_000_000);
    expect(h.PidsLimit).toBe(128);
    expect(h.Init).toBe(true);
    expect(h.Privileged).toBe(false);
    expect(h.CapDrop).toEqual(['ALL']);
    expect(h.CapAdd ?? []).toEqual([]);
    expect(h.SecurityOpt).toEqual(['no-new-privileges']);
    expect(h.Binds ?? []).toEqual([]);
    expect(info.Config.User).toBe('1000:100');
    expect(info.Config.Env.join('\n')).not.toMatch(/DOCKER_HOST/);
    expect(info.Config.Cmd?.join(' ') ?? '').not.toContain(a.token); // the token travels by env only
    expect(info.Mounts).toEqual([
      expect.objectContaining({ Type: 'volume', Name: a.home.volume, Destination: '/home/jovyan', RW: true }),
    ]);
    expect(info.Config.Labels).toMatchObject({
      'org.riglab.app': 'riglab',
      'org.riglab.deployment': deployment,
      'org.riglab.session': 'a',
      'org.riglab.user': 'alice',
      'org.riglab.course': 'cs101',
      'org.riglab.template': 'python-basics',
    });
    // Every process in the lab (tini, Jupyter, this probe) runs as 1000:100 with no capability.
    const status = (await run(local(), aHandle.containerId, ['sh', '-c', 'cat /proc/[0-9]*/status'])).out;
    const field = (name: string) => [...status.matchAll(new RegExp(`^${name}:\\s+(.*)$`, 'gm'))].map((m) => m[1]);
    expect(field('Uid').length).toBeGreaterThanOrEqual(3);
    expect(new Set(field('Uid').map((u) => u.split(/\s+/)[0]))).toEqual(new Set(['1000']));
    expect(new Set(field('Gid').map((g) => g.split(/\s+/)[0]))).toEqual(new Set(['100']));
    expect(new Set(field('CapEff'))).toEqual(new Set(['0000000000000000']));
    expect(new Set(field('CapBnd'))).toEqual(new Set(['0000000000000000']));
    expect(new Set(field('NoNewPrivs'))).toEqual(new Set(['1']));
    const volume = await local().getVolume(a.home.volume).inspect();
    expect(volume.Labels).toMatchObject({ 'org.riglab.app': 'riglab', 'org.riglab.user': 'alice' });
  });

  it('copies the starter files once, as the student, and keeps the home across containers', async () => {
    const sh = (id: string, script: string) => run(local(), id, ['sh', '-c', script]);
    const owners = await sh(
      aHandle.containerId,
      'cd ~ && stat -c "%n %u:%g %a" welcome.ipynb data data/numbers.csv run.sh .riglab/starter-files-copied',
    );
    expect(owners.out.trim().split('\n')).toEqual([
      'welcome.ipynb 1000:100 644',
      'data 1000:100 755',
      'data/numbers.csv 1000:100 644',
      'run.sh 1000:100 755',
      '.riglab/starter-files-copied 1000:100 644',
    ]);
    // The student edits a starter file, deletes another and writes their own.
    const edit = await sh(
      aHandle.containerId,
      'cd ~ && echo mine > welcome.ipynb && rm data/numbers.csv && echo kept > notes.txt',
    );
    expect(edit.code).toBe(0);

    await spawner.stop(localRig, aHandle);
    await spawner.remove(localRig, aHandle);
    const a2 = spec('a2'); // a later session of the same student: same home volume, new container
    const { handle } = await spawner.start(localRig, a2);
    expect(handle.containerId).not.toBe(aHandle.containerId);
    aHandle = handle;
    const after = await sh(handle.containerId, 'cd ~ && cat notes.txt welcome.ipynb; echo --; ls data; echo --; ls -A');
    const [contents, dataDir, home] = after.out.split('--\n');
    // Their own file and edit survive; the deleted starter file is not brought back (copied once);
    // the image's own home (.bashrc) was copied in by Docker when the volume was new.
    expect(contents).toBe('kept\nmine\n');
    expect(dataDir).toBe('');
    expect(home.trim().split('\n')).toEqual(
      expect.arrayContaining(['.bashrc', '.riglab', 'data', 'notes.txt', 'run.sh', 'welcome.ipynb']),
    );
    expect(after.out).not.toContain('numbers.csv');
  });

  let c: SpawnHandle;
  let d: SpawnHandle;

  it('gives each lab exactly its own device nodes', async () => {
    const [cs, ds] = await Promise.all([spawner.start(localRig, cSpec), spawner.start(localRig, dSpec)]);
    ({ handle: c } = cs);
    ({ handle: d } = ds);
    const look = `for f in ${devices.join(' ')}; do [ -c "$f" ] && echo "$f char" || echo "$f none"; done`;
    expect((await run(local(), c.containerId, ['sh', '-c', look])).out).toBe(
      `${devices[0]} char\n${devices[1]} none\n`,
    );
    expect((await run(local(), d.containerId, ['sh', '-c', look])).out).toBe(
      `${devices[0]} none\n${devices[1]} char\n`,
    );
    // The node is usable, not only visible: /dev/zero's numbers give zeros.
    expect((await run(local(), d.containerId, ['sh', '-c', `head -c 4 ${devices[1]} | od -An -tx1`])).out.trim()).toBe(
      '00 00 00 00',
    );
  });

  it('keeps labs from reaching each other, the rig host and the outside, while the host reaches them', async () => {
    const netInfo = await local().getNetwork(labNetworkName(deployment)).inspect();
    const gateway = netInfo.IPAM?.Config?.[0]?.Gateway ?? '';
    expect(gateway).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const dInfo = await local().getContainer(d.containerId).inspect();
    const dIp = dInfo.NetworkSettings.Networks[labNetworkName(deployment)].IPAddress;
    // A service of the rig host, listening on the lab network's own gateway address.
    const server = net.createServer((s) => s.end('host secret\n'));
    await new Promise<void>((r) => server.listen(0, gateway, r));
    const hostPort = (server.address() as net.AddressInfo).port;
    try {
      // The host reaches both labs' Jupyter and its own service (so a refusal below is the firewall).
      await waitForJupyter(`http://${dIp}:8888`, dSpec);
      const cUrl = `http://${(await local().getContainer(c.containerId).inspect()).NetworkSettings.Networks[labNetworkName(deployment)].IPAddress}:8888`;
      await waitForJupyter(cUrl, cSpec);
      await new Promise<void>((resolve, reject) => {
        const s = net.connect(hostPort, gateway, () => (s.end(), resolve()));
        s.on('error', reject);
      });
      // Lab c can talk to itself (Jupyter is up inside) ...
      expect(await probeFrom(local(), c.containerId, '127.0.0.1', 8888)).toBe('OPEN');
      // ... but not to lab d, the host's service, the host's other address, or beyond (REJECT: errno 113).
      expect(await probeFrom(local(), c.containerId, dIp, 8888)).toBe('BLOCKED errno 113');
      expect(await probeFrom(local(), c.containerId, gateway, hostPort)).toBe('BLOCKED errno 113');
      const hostAddr = execFileSync(
        'sh',
        ['-c', "ip -4 -o route get 1.1.1.1 | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p'"],
        {
          encoding: 'utf8',
        },
      ).trim();
      if (hostAddr) expect(await probeFrom(local(), c.containerId, hostAddr, hostPort)).toMatch(/^BLOCKED/);
      expect(await probeFrom(local(), c.containerId, '1.1.1.1', 443)).toBe('BLOCKED errno 113');
    } finally {
      server.close();
    }
  });

  it('stops and removes idempotently, and a removed lab polls as exited', async () => {
    expect(await spawner.poll(localRig, d)).toEqual({ state: 'running' });
    const t0 = Date.now();
    await spawner.stop(localRig, d);
    timings.gracefulStopMs = Date.now() - t0;
    expect(await spawner.poll(localRig, d)).toMatchObject({ state: 'exited', exitCode: expect.any(Number) });
    await spawner.stop(localRig, d);
    await spawner.stop(localRig, d, { now: true });
    await spawner.remove(localRig, d);
    await spawner.remove(localRig, d);
    await spawner.stop(localRig, d);
    expect(await spawner.poll(localRig, d)).toEqual({
      state: 'exited',
      exitCode: null,
      reason: 'the lab container no longer exists',
    });
    await spawner.stop(localRig, c, { now: true });
    expect(await spawner.poll(localRig, c)).toMatchObject({ state: 'exited', exitCode: 137 });
    // The homes outlive their containers.
    await expect(local().getVolume(dSpec.home.volume).inspect()).resolves.toBeTruthy();
  });

  it("lists only its own deployment's containers", async () => {
    // A container of another deployment on the same engine (never started).
    const other = await local().createContainer({
      Image: image,
      name: `riglab-${deployment}x-z`,
      Labels: { 'org.riglab.app': 'riglab', 'org.riglab.deployment': `${deployment}x`, 'org.riglab.session': 'z' },
    });
    try {
      const mine = await spawner.list(localRig, deployment);
      expect(mine.map((l) => [l.sessionId, l.running]).sort()).toEqual([
        ['a2', true],
        ['c', false],
      ]);
      expect(mine.find((l) => l.sessionId === 'a2')?.handle).toEqual(aHandle);
      expect((await spawner.list(localRig, `${deployment}x`)).map((l) => l.sessionId)).toEqual(['z']);
    } finally {
      await other.remove({ force: true });
    }
  });

  it('fails fast and clearly when an image is neither on the rig nor pullable', async () => {
    const missing = `riglab/no-such-image:${deployment}`;
    expect(await spawner.hasImage(localRig, missing)).toBe(false);
    const t0 = Date.now();
    const err = await spawner.ensureImage(localRig, missing).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(err).toBeInstanceOf(SpawnError);
    expect(err).toMatchObject({ code: 'image_missing' });
    expect((err as Error).message).toMatch(
      new RegExp(`^image ${missing} is not on rig local and could not be pulled: .+`),
    );
    await expect(spawner.start(localRig, spec('e', { image: missing }))).rejects.toMatchObject({
      code: 'image_missing',
    });
    expect((await spawner.list(localRig, deployment)).map((l) => l.sessionId)).not.toContain('e');
  });

  it('says an engine is unreachable in plain words', async () => {
    const gone: RigTarget = {
      ...localRig,
      id: 'rig-gone',
      name: 'gone',
      endpoint: { url: 'unix:///tmp/riglab-no-such-engine.sock' },
    };
    const handle = { rigId: 'rig-gone', containerId: 'x', containerName: 'x' };
    for (const call of [
      () => spawner.start(gone, spec('f')),
      () => spawner.poll(gone, handle),
      () => spawner.stop(gone, handle),
      () => spawner.remove(gone, handle),
      () => spawner.list(gone, deployment),
      () => spawner.hasImage(gone, image),
    ]) {
      const err = await call().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SpawnError);
      expect(err).toMatchObject({ code: 'engine_unreachable' });
      expect((err as Error).message).toMatch(
        /the Docker engine of rig gone is unreachable: socket not found \(is the Docker engine running\?\)$/,
      );
    }
  });

  it('runs a lab on a second rig through a published port', async () => {
    const p = spec('p', { home: { volume: `riglab-${deployment}-home-pat`, starterFiles: null } });
    const t0 = Date.now();
    const { handle, url } = await spawner.start(ownRig, p);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await waitForJupyter(url, p);
    timings.publishedStartToReadyMs = Date.now() - t0;
    expect(await httpStatus(`${url}${p.baseUrl}api/status`)).toBe(403);
    expect((await spawner.list(ownRig, deployment)).map((l) => l.handle)).toEqual([handle]);
    expect((await spawner.list(localRig, deployment)).map((l) => l.sessionId)).not.toContain('p');
    // Each engine has its own lab bridge, both behind the firewall's rl-* rules.
    const bridges = await Promise.all(
      [local(), own()].map(
        async (e) =>
          (await e.getNetwork(labNetworkName(deployment)).inspect()).Options?.['com.docker.network.bridge.name'],
      ),
    );
    expect(bridges[0]).toMatch(/^rl-[0-9a-f]{11}$/);
    expect(bridges[1]).toMatch(/^rl-[0-9a-f]{11}$/);
    expect(bridges[0]).not.toBe(bridges[1]);
    await spawner.stop(ownRig, handle, { now: true });
    await spawner.remove(ownRig, handle);
  });
});

// The isolation above rests on the rig firewall that engine-start installs (per host).
it('finds the lab firewall installed by engine-start', () => {
  const rules = execFileSync('iptables', ['-S'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  expect(rules).toContain('-A INPUT -i rl-+ -j RIGLAB-LAB');
  expect(rules).toContain('-A FORWARD -i rl-+ -j RIGLAB-LAB');
  expect(readFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').trim()).toBe('1');
});
