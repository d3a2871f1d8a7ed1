import request from 'supertest';
import { LabSession } from '../../api/src/modules/labs/lab-session.entity';
import type { User } from '../../api/src/modules/users/user.entity';
import { LedgerService } from '../../api/src/modules/ledger/ledger.service';
import { CourseQuota } from '../../api/src/modules/quota/course-quota.entity';
import {
  enroll,
  labPortal,
  makeDeviceNode,
  newCourse,
  newDeviceGpu,
  newRig,
  newTemplate,
  newUser,
  tokenFor,
  until,
} from '../support/labs';
import { env } from '../support/services';

// The fair GPU queue on one real GPU slot: least recent (decayed) GPU use goes first, a freed slot
// starts the next student by itself, and a student can leave the queue.

describe('fair GPU queue', () => {
  const f = labPortal({ LAUNCH_TIMEOUT_S: '120', GPU_QUEUE_INTERVAL_S: '1', QUOTA_USAGE_HALF_LIFE_HOURS: '1' });

  it('orders by decayed usage and starts the next student when the slot frees', async () => {
    const course = await newCourse(f.db.ds, 'ML400');
    await f.db.ds.getRepository(CourseQuota).save({
      courseId: course.id,
      ceiling: { gpuMinutesPerWeek: 1000, sliceMinutes: 30 },
    });
    const template = await newTemplate(f.db.ds, course, { slug: 'ml-gpu', gpu: { required: true }, memoryMb: 384 });
    const rig = await newRig(f.db.ds, 'rig-gpu', env.dockerHost);
    await newDeviceGpu(f.db.ds, rig, 0, makeDeviceNode(`/tmp/riglab-${f.deployment}-gpu0`));
    const names = ['holder', 'heavy', 'recent', 'oldheavy', 'fresh'];
    const users: Record<string, User> = Object.fromEntries(
      await Promise.all(names.map(async (n) => [n, await newUser(f.db.ds, n)])),
    );
    for (const u of Object.values(users)) await enroll(f.db.ds, u, course);
    const tokens: Record<string, string> = Object.fromEntries(
      await Promise.all(names.map(async (n) => [n, await tokenFor(f.portal, users[n])])),
    );

    // Past GPU use, as metering recorded it. With a half-life of 1 h: heavy used 60 min just now
    // (weighs ~60), recent 20 min just now (~20), oldheavy 120 min five hours ago (~3.75), fresh nothing.
    const ledger = f.portal.app.get(LedgerService);
    const ago = (h: number) => new Date(Date.now() - h * 3600_000);
    const debit = (who: string, minutes: number, at: Date) => ({
      kind: 'debit' as const,
      userId: users[who].id,
      courseId: course.id,
      gpuMinutes: -minutes,
      actor: 'system',
      reason: 'earlier use',
      at,
    });
    await ledger.append([
      debit('heavy', 60, ago(0.01)),
      debit('recent', 20, ago(0.01)),
      debit('oldheavy', 120, ago(5)),
    ]);

    const launch = async (who: string) => {
      const res = await request(f.portal.url)
        .post('/api/labs')
        .set('Authorization', `Bearer ${tokens[who]}`)
        .send({ templateId: template.id });
      expect(res.status).toBe(202);
      return res.body.id as string;
    };
    const session = (id: string) => f.db.ds.getRepository(LabSession).findOneByOrFail({ id });
    const view = async (who: string, id: string) =>
      (await request(f.portal.url).get(`/api/labs/${id}`).set('Authorization', `Bearer ${tokens[who]}`)).body;

    const holder = await launch('holder');
    await until(
      () => session(holder),
      (s) => s.state === 'ready',
      90_000,
    );
    expect((await session(holder)).state).toBe('ready');

    // They arrive in the worst order for fairness: heaviest first.
    const ids: Record<string, string> = {};
    for (const who of ['heavy', 'recent', 'oldheavy', 'fresh']) ids[who] = await launch(who);
    type Place = { position: number | null; estimatedStartAt: string | null } | null;
    const positions = async (): Promise<Record<string, Place>> =>
      Object.fromEntries(await Promise.all(Object.entries(ids).map(async ([w, id]) => [w, (await view(w, id)).queue])));
    const queued = await until(
      positions,
      (p) => Object.values(p).every((q) => q !== null && q.position !== null) && p.fresh?.position === 1,
      20_000,
    );
    expect(Object.fromEntries(Object.entries(queued).map(([w, q]) => [w, q!.position]))).toEqual({
      fresh: 1,
      oldheavy: 2,
      recent: 3,
      heavy: 4,
    });
    // Each sees an estimated start: one slice of 30 min per place ahead (the holder's slice ends first).
    const eta = (w: string) => new Date(queued[w]!.estimatedStartAt!).getTime() - Date.now();
    expect(eta('fresh')).toBeGreaterThan(25 * 60_000);
    expect(eta('fresh')).toBeLessThan(31 * 60_000);
    expect(eta('oldheavy') - eta('fresh')).toBeCloseTo(30 * 60_000, -4);
    for (const id of Object.values(ids)) expect((await session(id)).stateReason).toMatch(/^waiting for a GPU/);

    // The holder stops: the first in fair order starts by itself.
    await request(f.portal.url).delete(`/api/labs/${holder}`).set('Authorization', `Bearer ${tokens.holder}`);
    const freshLab = await until(
      () => session(ids.fresh),
      (s) => s.state === 'ready',
      90_000,
    );
    expect(freshLab.state).toBe('ready');
    for (const w of ['heavy', 'recent', 'oldheavy']) expect((await session(ids[w])).state).toBe('queued');
    const moved = await until(positions, (p) => p.oldheavy?.position === 1, 10_000);
    expect(moved.oldheavy!.position).toBe(1);
    expect(moved.recent!.position).toBe(2);

    // The heavy user gives up: leaving the queue is a stop, with its reason.
    await request(f.portal.url).delete(`/api/labs/${ids.heavy}`).set('Authorization', `Bearer ${tokens.heavy}`);
    const left = await until(
      () => session(ids.heavy),
      (s) => s.state === 'stopped',
      20_000,
    );
    expect(left.stateReason).toBe('left the GPU queue');

    // Freed again: the next in order (oldheavy) starts, recent still waits, now first.
    await request(f.portal.url).delete(`/api/labs/${ids.fresh}`).set('Authorization', `Bearer ${tokens.fresh}`);
    const next = await until(
      () => session(ids.oldheavy),
      (s) => s.state === 'ready',
      90_000,
    );
    expect(next.state).toBe('ready');
    expect((await session(ids.recent)).state).toBe('queued');
    expect((await until(positions, (p) => p.recent?.position === 1, 10_000)).recent!.position).toBe(1);
    const metrics = await request(f.portal.url).get('/metrics');
    expect(metrics.text).toMatch(/^riglab_gpu_queue_length 1$/m);

    for (const w of ['oldheavy', 'recent'])
      await request(f.portal.url).delete(`/api/labs/${ids[w]}`).set('Authorization', `Bearer ${tokens[w]}`);
  }, 300_000);
});
