import { execFileSync } from 'node:child_process';
import type { LabSpec, RigTarget } from '../spawner.port';
import { createOptions, validateSpec } from './container-spec';
import { labBridgeName } from './lab-network';
import { tarArchive } from './tar';

// The GPU paths cannot run on the build machines (no GPU): their create options are checked here;
// everything else is proved on real engines in test/spawner/.

const rig: RigTarget = { id: 'r1', name: 'rig1', endpoint: { url: 'unix:///x.sock' }, reach: { mode: 'bridge' } };
const base: LabSpec = {
  sessionId: 's1',
  owner: { username: 'alice', course: 'cs101', template: 'ml' },
  deployment: 'prod',
  image: 'riglab/lab-ml:1',
  cpuMillis: 1500,
  memoryMb: 2048,
  pidsLimit: 256,
  baseUrl: '/user/alice/ml/',
  token: 't0k',
  gpu: null,
  home: { volume: 'home-alice' },
};
const ctx = { rig, network: 'riglab-prod-lab', gpuGroupIds: ['44', '992'] };

describe(createOptions.name, () => {
  it('asks the nvidia runtime for exactly the assigned GPUs', () => {
    const o = createOptions({ ...base, gpu: { driver: 'nvidia', deviceIds: ['1', 'GPU-abc'] } }, ctx);
    expect(o.HostConfig?.DeviceRequests).toEqual([
      { Driver: 'nvidia', DeviceIDs: ['1', 'GPU-abc'], Capabilities: [['gpu']] },
    ]);
    expect(o.Env).toContain('NVIDIA_VISIBLE_DEVICES=1,GPU-abc');
    expect(o.HostConfig?.Devices).toBeUndefined();
  });
  it('passes /dev/kfd and only the assigned render nodes to AMD labs, with the device groups', () => {
    const o = createOptions({ ...base, gpu: { driver: 'amd', deviceIds: ['/dev/dri/renderD129'] } }, ctx);
    expect(o.HostConfig?.Devices).toEqual([
      { PathOnHost: '/dev/kfd', PathInContainer: '/dev/kfd', CgroupPermissions: 'rwm' },
      { PathOnHost: '/dev/dri/renderD129', PathInContainer: '/dev/dri/renderD129', CgroupPermissions: 'rwm' },
    ]);
    expect(o.HostConfig?.GroupAdd).toEqual(['44', '992']);
  });
  it('publishes 8888 on a random port only in publish mode, and never lets env override base URL or token', () => {
    const spec = { ...base, env: { JUPYTER_TOKEN: 'evil', RIGLAB_BASE_URL: '/', LANG: 'C.UTF-8' } };
    expect(createOptions(spec, ctx).HostConfig?.PortBindings).toBeUndefined();
    const o = createOptions(spec, { ...ctx, rig: { ...rig, reach: { mode: 'publish', publishHost: 'rig1.lab' } } });
    expect(o.HostConfig?.PortBindings).toEqual({ '8888/tcp': [{ HostIp: '', HostPort: '' }] });
    expect([...(o.Env ?? [])].sort()).toEqual(['JUPYTER_TOKEN=t0k', 'LANG=C.UTF-8', 'RIGLAB_BASE_URL=/user/alice/ml/']);
    expect(o.Cmd).toBeUndefined();
  });
});

describe(validateSpec.name, () => {
  it.each([
    [{ sessionId: 'a/b' }, /sessionId 'a\/b'/],
    [{ deployment: '' }, /deployment/],
    [{ baseUrl: '/user/alice' }, /baseUrl/],
    [{ gpu: { driver: 'amd', deviceIds: ['/dev/dri/card0'] } }, /not a \/dev\/dri\/renderD\* node/],
    [{ gpu: { driver: 'devices', deviceIds: ['/dev/../etc/passwd'] } }, /not a plain absolute path/],
    [{ home: { volume: 'h', starterFiles: 'starter' } }, /absolute folder/],
  ] as [Partial<LabSpec>, RegExp][])('refuses %p naming the field', (over, why) => {
    expect(() => validateSpec({ ...base, ...over })).toThrow(why);
  });
});

describe(labBridgeName.name, () => {
  it('fits a Linux interface name and differs per engine and deployment', () => {
    const a = labBridgeName('ID\n/var/lib/docker', 'prod');
    expect(a).toMatch(/^rl-[0-9a-f]{11}$/);
    expect(labBridgeName('ID\n/srv/docker2', 'prod')).not.toBe(a);
    expect(labBridgeName('ID\n/var/lib/docker', 'staging')).not.toBe(a);
  });
});

describe(tarArchive.name, () => {
  it('writes an archive GNU tar reads back with owners, modes, long paths and links', async () => {
    const mtime = new Date('2025-01-02T03:04:05Z');
    const owner = { uid: 1000, gid: 100, mtime };
    const deep = `${'d'.repeat(80)}/${'e'.repeat(90)}.txt`;
    const archive = await tarArchive([
      { type: 'dir', path: 'data', mode: 0o755, ...owner },
      { type: 'file', path: 'data/n.csv', mode: 0o644, content: Buffer.from('n\n1\n'), ...owner },
      { type: 'file', path: 'run.sh', mode: 0o755, content: Buffer.alloc(600, 'x'), ...owner },
      { type: 'symlink', path: 'latest', mode: 0o777, target: 'data/n.csv', ...owner },
      { type: 'file', path: deep, mode: 0o600, content: Buffer.from('deep'), ...owner },
    ]);
    const list = execFileSync('tar', ['-tvf', '-', '--numeric-owner'], { input: archive, encoding: 'utf8' });
    expect(
      list
        .trim()
        .split('\n')
        .map((l) => l.replace(/\s+/g, ' ').replace(/ \d{4}-\d\d-\d\d \d\d:\d\d/, '')),
    ).toEqual([
      'drwxr-xr-x 1000/100 0 data/',
      '-rw-r--r-- 1000/100 4 data/n.csv',
      '-rwxr-xr-x 1000/100 600 run.sh',
      'lrwxrwxrwx 1000/100 0 latest -> data/n.csv',
      `-rw------- 1000/100 4 ${deep}`,
    ]);
    expect(execFileSync('tar', ['-xOf', '-', 'data/n.csv'], { input: archive, encoding: 'utf8' })).toBe('n\n1\n');
  });
});
