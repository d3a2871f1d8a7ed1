import { KernelManager, ServerConnection, ContentsManager } from '@jupyterlab/services';
import Docker from 'dockerode';
import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { TokensService } from '../../api/src/modules/auth/tokens.service';
import { Course, CourseRole, Enrollment } from '../../api/src/modules/courses/course.entity';
import { Gpu, GpuSlot, Rig } from '../../api/src/modules/rigs/rig.entity';
import { GpuPolicy, LabTemplate, LabTemplateVersion } from '../../api/src/modules/templates/lab-template.entity';
import { CampusRole, User } from '../../api/src/modules/users/user.entity';
import { migratedDatabase, startPortal, testConfig, type TestPortal } from './app';
import { env, ROOT } from './services';

// Factories that insert real rows (STYLE.md), and helpers to drive labs as a student would.

export const LAB_IMAGE = process.env.RIGLAB_TEST_LAB_IMAGE!;
export const STARTER = join('python-basics', 'starter');

export async function newUser(ds: DataSource, username: string, campusRole: CampusRole = 'student'): Promise<User> {
  return ds.getRepository(User).save({ username, displayName: username, campusRole, email: `${username}@uni.example` });
}

export async function newCourse(ds: DataSource, code = 'CS101', term = '2026F'): Promise<Course> {
  return ds.getRepository(Course).save({ code, term, title: `${code} test course` });
}

export async function enroll(ds: DataSource, user: User, course: Course, role: CourseRole = 'student'): Promise<void> {
  await ds.getRepository(Enrollment).save({ userId: user.id, courseId: course.id, role });
}

export async function newTemplate(
  ds: DataSource,
  course: Course,
  opts: {
    slug?: string;
    gpu?: GpuPolicy;
    memoryMb?: number;
    idleTimeoutS?: number;
    maxAgeS?: number;
    image?: string;
  } = {},
): Promise<LabTemplate> {
  const template = await ds.getRepository(LabTemplate).save({
    courseId: course.id,
    slug: opts.slug ?? 'python-basics',
    title: 'Python basics',
    published: true,
    currentVersion: 1,
  });
  await ds.getRepository(LabTemplateVersion).save({
    templateId: template.id,
    version: 1,
    image: opts.image ?? LAB_IMAGE,
    cpuMillis: 500,
    memoryMb: opts.memoryMb ?? 512,
    pidsLimit: 256,
    gpuPolicy: opts.gpu ?? { required: false },
    starterFiles: STARTER,
    idleTimeoutS: opts.idleTimeoutS ?? 1800,
    maxAgeS: opts.maxAgeS ?? 28800,
  });
  return template;
}

export async function newRig(ds: DataSource, name: string, endpoint: string, opts: Partial<Rig> = {}): Promise<Rig> {
  return ds
    .getRepository(Rig)
    .save({ name, dockerEndpoint: endpoint, cpuMillis: 16000, memoryMb: 32768, driverKind: 'devices', ...opts });
}

/** A "GPU" that is a device node made for the test: the devices driver passes it through. */
export async function newDeviceGpu(
  ds: DataSource,
  rig: Rig,
  index: number,
  devicePath: string,
  slots = 1,
): Promise<Gpu> {
  const gpu = await ds
    .getRepository(Gpu)
    .save({ rigId: rig.id, index, model: 'GTX 1070', vramMb: 8192, driverKind: 'devices', deviceIds: [devicePath] });
  for (let i = 0; i < slots; i++) await ds.getRepository(GpuSlot).save({ gpuId: gpu.id, slotIndex: i });
  return gpu;
}

export function makeDeviceNode(path: string): string {
  execSync(`rm -f ${path} && mknod ${path} c 1 3 && chmod 666 ${path}`);
  return path;
}

export async function tokenFor(portal: TestPortal, user: User, scopes?: string[]): Promise<string> {
  return (await portal.app.get(TokensService).create(user, { scopes })).token;
}

export interface ProgressEvent {
  progress: number;
  message: string;
  ready?: boolean;
  failed?: boolean;
  state?: string;
  url?: string | null;
  /** The SSE `id:` of the step, when it has one. */
  eventId?: string;
}

/** Reads the Server-Sent Events progress stream to its end, as a browser's EventSource would. */
export function readProgress(
  portal: TestPortal,
  labId: string,
  token: string,
  lastEventId?: string,
  timeoutMs = 120_000,
): Promise<ProgressEvent[]> {
  return new Promise((resolve, reject) => {
    const events: ProgressEvent[] = [];
    const req = httpRequest(
      `${portal.url}/api/labs/${labId}/progress`,
      {
        headers: {
          Authorization: `Bearer ${token}`,
          Accept: 'text/event-stream',
          ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}),
        },
        timeout: timeoutMs,
      },
      (res) => {
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const data = block.split('\n').find((l) => l.startsWith('data: '));
            const id = block.split('\n').find((l) => l.startsWith('id: '));
            if (data) events.push({ ...JSON.parse(data.slice(6)), ...(id ? { eventId: id.slice(4) } : {}) });
          }
        });
        res.on('end', () => resolve(events));
      },
    );
    req.on('timeout', () => req.destroy(new Error('progress stream timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Connection settings for @jupyterlab/services through the portal's proxy, with a riglab token. */
export function jupyterThroughPortal(
  portal: TestPortal,
  username: string,
  lab: string,
  token: string,
): ServerConnection.ISettings {
  const baseUrl = `${portal.url}/user/${username}/${lab}/`;
  return ServerConnection.makeSettings({ baseUrl, wsUrl: baseUrl.replace(/^http/, 'ws'), token, appendToken: true });
}

/** Runs code in a new kernel and returns what it printed. */
export async function runCode(settings: ServerConnection.ISettings, code: string): Promise<string> {
  const kernels = new KernelManager({ serverSettings: settings });
  await kernels.ready;
  const kernel = await kernels.startNew({ name: 'python3' });
  try {
    let out = '';
    const future = kernel.requestExecute({ code });
    future.onIOPub = (msg) => {
      if (msg.header.msg_type === 'stream') out += (msg.content as { text: string }).text;
    };
    await future.done;
    return out;
  } finally {
    await kernel.shutdown().catch(() => undefined);
    kernel.dispose();
    kernels.dispose();
  }
}

export function contents(settings: ServerConnection.ISettings): ContentsManager {
  return new ContentsManager({ serverSettings: settings });
}

export function randomDeployment(): string {
  return `t${randomBytes(4).toString('hex')}`;
}

/** Removes every container, volume and network a test deployment left on an engine. */
export async function cleanEngine(endpoint: string, deployment: string): Promise<void> {
  const docker = new Docker({ socketPath: endpoint.replace('unix://', '') });
  const filters = JSON.stringify({ label: [`org.riglab.deployment=${deployment}`] });
  for (const c of await docker.listContainers({ all: true, filters }))
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => undefined);
  const { Volumes } = await docker.listVolumes({ filters });
  for (const v of Volumes ?? [])
    await docker
      .getVolume(v.Name)
      .remove({ force: true })
      .catch(() => undefined);
}

export async function containersOf(endpoint: string, deployment: string): Promise<Docker.ContainerInfo[]> {
  const docker = new Docker({ socketPath: endpoint.replace('unix://', '') });
  return docker.listContainers({
    all: true,
    filters: JSON.stringify({ label: [`org.riglab.deployment=${deployment}`] }),
  });
}

/** Copies the lab image from the test engine into another engine (no registry here). */
export function copyImage(image: string, toEndpoint: string): void {
  execSync(`docker -H ${env.dockerHost} save ${image} | docker -H ${toEndpoint} load -q`, {
    stdio: 'ignore',
    maxBuffer: 1 << 30,
  });
}

export async function until<T>(
  probe: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 60_000,
  everyMs = 250,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last = await probe();
  while (!ok(last) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, everyMs));
    last = await probe();
  }
  return last;
}

export { ROOT };

export interface LabPortal {
  deployment: string;
  db: Awaited<ReturnType<typeof migratedDatabase>>;
  portal: TestPortal;
}

/**
 * A portal of the test file's own (database, deployment label) on the test engine, started before
 * its tests and torn down after them, with every container, volume and network it made.
 * Periodic repair and culling are off unless `vars` turn them on: tests call them when they mean to.
 */
export function labPortal(vars: Record<string, string> = {}): LabPortal {
  const f = { deployment: randomDeployment() } as LabPortal;
  beforeAll(async () => {
    f.db = await migratedDatabase();
    f.portal = await startPortal(
      testConfig({
        DATABASE_URL: f.db.url,
        DEPLOYMENT_ID: f.deployment,
        RECONCILE_INTERVAL_S: '3600',
        CULL_INTERVAL_S: '3600',
        ...vars,
      }),
    );
  });
  afterAll(async () => {
    await f.portal?.close();
    await cleanEngine(env.dockerHost, f.deployment);
    await f.db?.drop();
  });
  return f;
}
