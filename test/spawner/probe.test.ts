import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statfsSync,
  appendFileSync,
  readFileSync,
} from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { ProbeError, RigProber, probeImageTag, type RigTarget } from '../../spawner/src';
import { ROOT, env } from '../support/services';

// The telemetry probe against the real `local` engine (a VM with no GPU): it must report what the
// machine has, say which GPU sources are absent, and run locked down. The engine runs on this host,
// so the host's own figures are the reference.

const rig: RigTarget = {
  id: 'rig-probe-test',
  name: 'local',
  endpoint: { url: env.dockerHost },
  reach: { mode: 'bridge' },
};
const docker = new Docker({ socketPath: env.dockerHost.replace('unix://', '') });
const MIB = 1024 * 1024;
const work = mkdtempSync(join(os.tmpdir(), 'riglab-probe-test-'));
const imported: string[] = [];

afterAll(async () => {
  for (const tag of imported)
    await docker
      .getImage(tag)
      .remove({ force: true })
      .catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

describe('the probe image', () => {
  it('infra/probe-image.sh prints the tag the spawner computes, and does not rebuild it', () => {
    const run = () =>
      execFileSync('bash', [join(ROOT, 'infra', 'probe-image.sh')], {
        env: { ...process.env, DOCKER_HOST: env.dockerHost },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }).trim();
    const tag = run();
    expect(tag).toBe(probeImageTag());
    expect(tag).toMatch(/^riglab\/probe:[0-9a-f]{12}$/);
    const started = performance.now();
    expect(run()).toBe(tag);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('runs a dynamically linked tool mounted into it, as the NVIDIA runtime mounts nvidia-smi', () => {
    // coreutils' nproc needs glibc, like nvidia-smi; busybox alone could not start it.
    const out = execFileSync(
      'docker',
      [
        '-H',
        env.dockerHost,
        'run',
        '--rm',
        '--read-only',
        '--network',
        'none',
        '--cap-drop',
        'ALL',
        '--user',
        '65534:65534',
        '-v',
        '/usr/bin/nproc:/usr/bin/nproc:ro',
        probeImageTag(),
        '/usr/bin/nproc',
      ],
      { encoding: 'utf8' },
    ).trim();
    expect(Number(out)).toBe(os.availableParallelism());
  });

  it('is imported by the spawner into an engine that lacks it', async () => {
    // Another busybox (trailing bytes, which an ELF loader ignores) is another recipe: a tag no engine has.
    const busybox = join(work, 'busybox');
    copyFileSync('/bin/busybox', busybox);
    appendFileSync(busybox, `\n${Date.now()}\n`);
    const tag = probeImageTag(busybox);
    imported.push(tag);
    await expect(docker.getImage(tag).inspect()).rejects.toMatchObject({ statusCode: 404 });
    const result = await new RigProber({ busyboxPath: busybox }).probe(rig);
    expect(result.image).toBe(tag);
    // busybox, glibc and ipmitool with its libraries: about 18 MB.
    expect((await docker.getImage(tag).inspect()).Size).toBeLessThan(24 * MIB);
    expect(result.sample.cpus).toBeGreaterThan(0);
  });
});

describe('RigProber.probe on the local engine', () => {
  it('reports load, memory, CPUs, the data root disk and what sensors exist, locked down', async () => {
    const { sample, wallMs, container, output } = await new RigProber().probe(rig);
    console.log(`probe of the local engine took ${wallMs} ms`);
    expect(wallMs).toBeLessThan(5_000);

    expect(sample.cpus).toBe(os.availableParallelism());
    expect(sample.memoryTotalMb).toBeCloseTo(os.totalmem() / MIB, -1);
    expect(sample.memoryAvailableMb).toBeGreaterThan(0);
    expect(sample.memoryAvailableMb!).toBeLessThanOrEqual(sample.memoryTotalMb!);
    expect(Math.abs(sample.load1! - os.loadavg()[0])).toBeLessThan(2);

    const root = (await docker.info()).DockerRootDir as string;
    const fs = statfsSync(root);
    expect(sample.diskTotalMb).toBeCloseTo((fs.blocks * fs.bsize) / MIB, -2);
    expect(Math.abs(sample.diskFreeMb! - (fs.bavail * fs.bsize) / MIB)).toBeLessThan(512);

    const sources = sample.notAvailable.map((n) => n.source);
    expect(sample.gpus).toEqual([]);
    expect(sources).toEqual(expect.arrayContaining(['nvidia-smi', 'amd', 'ipmitool']));
    expect(sample.notAvailable.find((n) => n.source === 'nvidia-smi')?.why).toMatch(/no NVIDIA runtime/);
    const hostHasHwmon = existsSync('/sys/class/hwmon') && readdirSync('/sys/class/hwmon').length > 0;
    if (hostHasHwmon) expect(sample.sensors.length).toBeGreaterThan(0);
    else expect(sources).toContain('hwmon');
    expect(sources).not.toContain('probe'); // it finished within its budget
    expect(output).toContain('@@riglab end');
    // The kernel log is readable with CAP_SYSLOG alone: no Xids on a rig without NVIDIA GPUs, but read.
    expect(sources).not.toContain('kernel');
    expect(sample.kernelLog?.bootId).toBe(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    expect(sample.kernelLog?.untilS).toBeGreaterThan(0);
    // The probe sees the data root's file system, not the containers and volumes in it.
    expect(output).not.toMatch(/volumes|overlay2/);

    expect(container).toEqual({
      readonlyRootfs: true,
      networkMode: 'none',
      capDrop: ['ALL'],
      capAdd: ['SYSLOG'],
      privileged: false,
      securityOpt: ['no-new-privileges'],
      user: '0:0',
      memoryBytes: 32 * MIB,
      pidsLimit: 64,
      binds: [`${root}/tmp:/rig/data-root:ro`],
      devices: [], // the engine said this rig has no /dev/ipmi0: probed again without it
      gpusRequested: false,
    });
    expect(sample.notAvailable.find((n) => n.source === 'ipmitool')?.why).toBe('no BMC on this rig (no /dev/ipmi0)');
    const left = await docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`org.riglab.rig=${rig.id}`] }),
    });
    expect(left).toEqual([]);
  });

  it('passes a BMC device to ipmitool inside the probe, and reports what ipmitool says', async () => {
    // This host has no BMC: a device node on a major number with no driver (240, reserved for local
    // use) stands in for /dev/ipmi0. ipmitool then runs in the probe image (its libraries load) and
    // fails to talk to it; a rig with a real BMC gets its sensors from the same section.
    const real = existsSync('/dev/ipmi0');
    if (!real) execFileSync('mknod', ['/dev/ipmi0', 'c', '240', '0']);
    try {
      const { sample, container, output } = await new RigProber().probe(rig);
      expect(container.devices).toEqual(['/dev/ipmi0']);
      expect(output).toContain('@@riglab section ipmitool');
      if (real) expect(sample.sensors.some((s) => s.source === 'ipmi')).toBe(true);
      else
        expect(sample.notAvailable.find((n) => n.source === 'ipmitool')?.why).toMatch(
          /^unreadable output: exited with 1: Could not open device at \/dev\/ipmi0/,
        );
    } finally {
      if (!real) rmSync('/dev/ipmi0', { force: true });
    }
  });

  it('fails clearly on a rig whose engine does not answer, or when busybox is missing', async () => {
    const dead: RigTarget = { ...rig, name: 'rig9', endpoint: { url: `unix://${join(work, 'nothing.sock')}` } };
    const err = await new RigProber({ timeoutMs: 2_000 }).probe(dead).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProbeError);
    expect(err).toMatchObject({ code: 'engine_unreachable' });
    expect((err as Error).message).toMatch(/^rig rig9: asking the engine for its data root: /);
    expect((err as Error).message).not.toMatch(/\n\s+at /);

    const noBusybox = await new RigProber({ busyboxPath: join(work, 'no-busybox') })
      .probe(rig)
      .catch((e: unknown) => e);
    expect(noBusybox).toMatchObject({ code: 'image_missing' });
    expect((noBusybox as Error).message).toContain(`needs a static busybox at ${join(work, 'no-busybox')}`);
  });
});
