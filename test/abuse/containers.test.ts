import Docker from 'dockerode';
import { networkInterfaces } from 'node:os';
import request from 'supertest';
import { LAB_HOME, LAB_PORT } from '../../spawner/src/docker/container-spec';
import { migratedDatabase, startPortal, testConfig, TestPortal } from '../support/app';
import {
  cleanEngine,
  containersOf,
  enroll,
  newCourse,
  newRig,
  newTemplate,
  newUser,
  randomDeployment,
  readProgress,
  tokenFor,
} from '../support/labs';
import { env } from '../support/services';

/**
 * Labs launched the way students launch them (through the portal), then looked at from the engine and
 * from inside: every container of the launch is hardened, and from a lab nothing is reachable but
 * the lab itself: not the other student's lab, not the database, Redis or the portal.
 */
describe('lab containers launched through the portal', () => {
  const deployment = randomDeployment();
  const docker = new Docker({ socketPath: env.dockerHost.replace('unix://', '') });
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let portal: TestPortal;
  const created: string[] = [];
  let events: NodeJS.ReadableStream | undefined;

  beforeAll(async () => {
    db = await migratedDatabase();
    portal = await startPortal(
      testConfig({
        DATABASE_URL: db.url,
        DEPLOYMENT_ID: deployment,
        LAUNCH_TIMEOUT_S: '90',
        RECONCILE_INTERVAL_S: '3600',
        CULL_INTERVAL_S: '3600',
      }),
    );
    const course = await newCourse(db.ds);
    const template = await newTemplate(db.ds, course, { memoryMb: 384 });
    await newRig(db.ds, 'rig-a', env.dockerHost);
    // Every container the engine creates while the labs launch, whatever its labels: none may escape the checks.
    events = (await docker.getEvents({
      filters: JSON.stringify({ type: ['container'], event: ['create'] }),
    })) as NodeJS.ReadableStream;
    events.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        const e = JSON.parse(line) as { id: string; Actor?: { Attributes?: Record<string, string> } };
        if (e.Actor?.Attributes?.['org.riglab.deployment'] === deployment) created.push(e.id);
      }
    });
    for (const name of ['carol', 'dave']) {
      const user = await newUser(db.ds, name);
      await enroll(db.ds, user, course);
      const token = await tokenFor(portal, user);
      const res = await request(portal.url)
        .post('/api/labs')
        .set('Authorization', `Bearer ${token}`)
        .send({ templateId: template.id });
      expect(res.status).toBe(202);
      const progress = await readProgress(portal, res.body.id, token);
      expect(progress[progress.length - 1]).toMatchObject({ ready: true });
    }
  }, 240_000);

  afterAll(async () => {
    (events as unknown as { destroy?: () => void })?.destroy?.();
    await portal?.close();
    await cleanEngine(env.dockerHost, deployment);
    await db?.drop();
  });

  async function labOf(user: string): Promise<Docker.ContainerInspectInfo> {
    const [c] = (await containersOf(env.dockerHost, deployment)).filter((x) => x.Labels['org.riglab.user'] === user);
    expect(c).toBeDefined();
    return docker.getContainer(c.Id).inspect();
  }

  /** Runs a Python snippet inside a container as the lab's own user and returns what it printed. */
  async function inside(id: string, code: string): Promise<string> {
    const exec = await docker
      .getContainer(id)
      .exec({ Cmd: ['python3', '-c', code], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    await new Promise((r) => stream.on('end', r));
    // Docker multiplexes stdout/stderr with 8-byte frame headers: strip them.
    const buf = Buffer.concat(chunks);
    let out = '';
    for (let i = 0; i + 8 <= buf.length;) {
      const len = buf.readUInt32BE(i + 4);
      out += buf.subarray(i + 8, i + 8 + len).toString('utf8');
      i += 8 + len;
    }
    return out;
  }

  it('hardens every container the launches created', async () => {
    const ids = [...new Set([...created, ...(await containersOf(env.dockerHost, deployment)).map((c) => c.Id)])];
    expect(ids.length).toBeGreaterThanOrEqual(2);
    const report: string[] = [];
    for (const id of ids) {
      const info = await docker.getContainer(id).inspect();
      const hc = info.HostConfig;
      const name = info.Name.replace(/^\//, '');
      const mounts = info.Mounts.map((m) => ({ type: m.Type, destination: m.Destination }));
      const facts = {
        privileged: hc.Privileged,
        capDrop: hc.CapDrop,
        capAdd: hc.CapAdd ?? null,
        noNewPrivileges: (hc.SecurityOpt ?? []).includes('no-new-privileges'),
        pidsLimitSet: (hc.PidsLimit ?? 0) > 0,
        memorySet: (hc.Memory ?? 0) > 0,
        swapOff: hc.MemorySwap === hc.Memory,
        binds: hc.Binds ?? null,
        mounts,
        networkMode: hc.NetworkMode,
        pidMode: hc.PidMode ?? '',
        ipcMode: hc.IpcMode,
        user: info.Config.User,
        devices: (hc.Devices ?? []).length,
      };
      expect([name, facts]).toEqual([
        name,
        {
          privileged: false,
          capDrop: ['ALL'],
          capAdd: null,
          noNewPrivileges: true,
          pidsLimitSet: true,
          memorySet: true,
          swapOff: true,
          binds: null,
          // The one mount: the student's home volume (no host path, no Docker socket).
          mounts: [{ type: 'volume', destination: LAB_HOME }],
          networkMode: `riglab-${deployment}-lab`,
          pidMode: '',
          ipcMode: expect.not.stringMatching(/^(host|container:)/),
          user: expect.stringMatching(/^[1-9]\d*(:\d+)?$/),
          devices: 0,
        },
      ]);
      report.push(`${name}: mem ${hc.Memory! / 2 ** 20} MiB, pids ${hc.PidsLimit}, user ${info.Config.User}`);
    }
    console.log(`containers: ${ids.length} created by 2 launches, all hardened (${report.join('; ')})`);
  });

  it('lets a lab write only where the design says: its home and scratch space, not the image', async () => {
    const lab = await labOf('carol');
    // The root filesystem is the image's (not read-only: pip --user and Jupyter's runtime files need a
    // writable home and /tmp), and the lab's user is not root, so nothing of the image is writable.
    const out = await inside(
      lab.Id,
      `import os, json
found = []
for top in ['/']:
    for root, dirs, files in os.walk(top):
        if root.startswith(('/proc', '/sys', '/dev')):
            dirs[:] = []
            continue
        if os.access(root, os.W_OK):
            found.append(root)
            dirs[:] = []
print(json.dumps({'uid': os.getuid(), 'writable': sorted(found)}))`,
    );
    const { uid, writable } = JSON.parse(out.trim().split('\n').pop()!) as { uid: number; writable: string[] };
    console.log(`containers: lab runs as uid ${uid}; writable folders: ${writable.join(' ')}`);
    expect(uid).not.toBe(0);
    for (const dir of writable)
      expect([dir, /^(\/home\/jovyan|\/tmp|\/var\/tmp|\/run\/lock)(\/|$)/.test(dir)]).toEqual([dir, true]);
    expect(writable).toContain(LAB_HOME);
  });

  it('cannot reach the other student’s lab, the database, Redis or the portal from inside a lab', async () => {
    const carol = await labOf('carol');
    const dave = await labOf('dave');
    const net = `riglab-${deployment}-lab`;
    const daveIp = dave.NetworkSettings.Networks[net].IPAddress;
    const gateway = carol.NetworkSettings.Networks[net].Gateway;
    const pgPort = Number(new URL(env.pgAdminUrl).port || 5432);
    const redisPort = Number(new URL(env.redisUrl).port || 6379);
    const portalPort = Number(new URL(portal.url).port);
    const hostIps = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a && a.family === 'IPv4')
      .map((a) => a!.address)
      .filter((a) => a !== '127.0.0.1');
    const targets: Array<[string, string, number]> = [
      ['dave’s lab', daveIp, LAB_PORT],
      ...[...new Set([gateway, ...hostIps])].flatMap((ip): Array<[string, string, number]> => [
        [`postgres on ${ip}`, ip, pgPort],
        [`redis on ${ip}`, ip, redisPort],
        [`portal on ${ip}`, ip, portalPort],
        [`docker engine on ${ip}`, ip, 2375],
      ]),
      ['the outside world', '1.1.1.1', 443],
    ];
    const code = `import socket, json
def probe(ip, port):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect((ip, port)); return 'open'
    except Exception as e:
        return type(e).__name__ + ('' if getattr(e, 'errno', None) is None else ':' + str(e.errno))
    finally:
        s.close()
print(json.dumps([probe(ip, port) for ip, port in ${JSON.stringify(targets.map(([, ip, port]) => [ip, port]))}] + [probe('127.0.0.1', ${LAB_PORT})]))`;
    const results = JSON.parse((await inside(carol.Id, code)).trim().split('\n').pop()!) as string[];
    const own = results.pop();
    const seen = targets.map(([what, ip, port], i) => `${what} ${ip}:${port}=${results[i]}`);
    console.log(`containers: from carol's lab ${seen.join(', ')}; own Jupyter=${own}`);
    // The probe itself works: the lab's own Jupyter answers on its loopback.
    expect(own).toBe('open');
    for (let i = 0; i < targets.length; i++) expect([targets[i][0], results[i]]).not.toEqual([targets[i][0], 'open']);
    // And the portal still reaches both labs (the firewall blocks labs, not the host).
    expect((await request(`http://${daveIp}:${LAB_PORT}`).get('/').timeout(5000)).status).toBeLessThan(500);
  });
});
