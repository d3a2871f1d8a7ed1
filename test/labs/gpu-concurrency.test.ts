import Docker from 'dockerode';
import request from 'supertest';
import { LabSession } from '../../api/src/modules/labs/lab-session.entity';
import {
  containersOf,
  enroll,
  makeDeviceNode,
  newCourse,
  newDeviceGpu,
  newRig,
  newTemplate,
  newUser,
  tokenFor,
  until,
  labPortal,
} from '../support/labs';
import { env } from '../support/services';

const isWaiting = (s: LabSession) => s.state === 'queued' || s.state === 'placing';

describe('20 concurrent GPU launches on a pool with 3 GPU slots', () => {
  const f = labPortal({ LAUNCH_TIMEOUT_S: '120', LAUNCH_CONCURRENCY: '100' });

  it('never holds a slot twice; three run, each with its own device; the rest wait with a clear reason', async () => {
    // (generous: 20 launches and 3 real lab containers on a 2-core machine)
    const course = await newCourse(f.db.ds);
    const template = await newTemplate(f.db.ds, course, {
      slug: 'ml-lab',
      gpu: { required: true, models: ['GTX 1070'] },
      memoryMb: 384,
    });
    const rig = await newRig(f.db.ds, 'rig-gpu', env.dockerHost);
    const devices = [0, 1, 2].map((i) => makeDeviceNode(`/tmp/riglab-${f.deployment}-gpu${i}`));
    for (const [i, path] of devices.entries()) await newDeviceGpu(f.db.ds, rig, i, path);

    const students = await Promise.all(
      Array.from({ length: 20 }, (_, i) => newUser(f.db.ds, `s${String(i).padStart(2, '0')}`)),
    );
    for (const s of students) await enroll(f.db.ds, s, course);
    const tokens = await Promise.all(students.map((s) => tokenFor(f.portal, s)));

    const answers = await Promise.all(
      tokens.map((t) =>
        request(f.portal.url).post('/api/labs').set('Authorization', `Bearer ${t}`).send({ templateId: template.id }),
      ),
    );
    expect(answers.filter((a) => a.status !== 202).map((a) => a.body)).toEqual([]);

    // While launches run, sample the slots: no session ever holds two, no slot is shared.
    let samples = 0;
    const sessions = () => f.db.ds.getRepository(LabSession).find({ where: { courseId: course.id } });
    const settled = await until(
      async () => {
        const held: Array<{ session_id: string; n: number }> = await f.db.ds.query(
          `SELECT session_id, count(*)::int AS n FROM gpu_slots WHERE session_id IS NOT NULL GROUP BY session_id`,
        );
        expect(held.every((h) => h.n === 1)).toBe(true);
        expect(held.length).toBeLessThanOrEqual(3);
        samples++;
        return sessions();
      },
      (all) => all.filter((s) => s.state === 'ready').length === 3 && all.filter(isWaiting).length === 17,
      150_000,
      300,
    );
    expect(samples).toBeGreaterThan(3);
    expect(settled.filter((s) => s.state === 'ready')).toHaveLength(3);
    const waiting = settled.filter(isWaiting);
    expect(waiting).toHaveLength(17);
    // The others wait in the fair GPU queue with the reason, each told its place.
    expect(waiting.every((s) => s.state === 'queued' && s.gpuQueuedAt !== null)).toBe(true);
    expect(waiting.every((s) => /^waiting for a GPU: /.test(s.stateReason))).toBe(true);
    const placed = await until(sessions, (all) => all.filter(isWaiting).every((s) => s.queuePosition !== null), 15_000);
    expect(
      placed
        .filter(isWaiting)
        .map((s) => s.queuePosition)
        .sort((a, b) => a! - b!),
    ).toEqual(Array.from({ length: 17 }, (_, i) => i + 1));

    // Each running lab sees exactly its own device node.
    const ready = settled.filter((s) => s.state === 'ready');
    const slots: Array<{ session_id: string; device: string }> = await f.db.ds.query(
      `SELECT s.session_id, g.device_ids[1] AS device FROM gpu_slots s JOIN gpus g ON g.id = s.gpu_id WHERE s.session_id IS NOT NULL`,
    );
    expect(new Set(slots.map((s) => s.device)).size).toBe(3);
    const running = await containersOf(env.dockerHost, f.deployment);
    expect(running.filter((c) => c.State === 'running')).toHaveLength(3);
    for (const c of running) {
      const mine = slots.find((s) => s.session_id === c.Labels['org.riglab.session'])!.device;
      const inspect = await new Docker({ socketPath: env.dockerHost.replace('unix://', '') })
        .getContainer(c.Id)
        .inspect();
      expect(inspect.HostConfig.Devices?.map((d: { PathOnHost: string }) => d.PathOnHost)).toEqual([mine]);
    }

    // Stopping one lab frees its slot for the next in the queue.
    const first = ready[0];
    const owner = students.find((s) => s.id === first.userId)!;
    await request(f.portal.url)
      .delete(`/api/labs/${first.id}`)
      .set('Authorization', `Bearer ${tokens[students.indexOf(owner)]}`);
    const next = await until(
      sessions,
      (all) => all.filter((s) => s.state === 'ready').length === 3 && all.filter(isWaiting).length === 16,
      90_000,
      500,
    );
    expect(next.filter(isWaiting)).toHaveLength(16);

    // Stop everything; no slot stays held.
    for (const s of next.filter((x) => ['queued', 'ready', 'starting', 'placing'].includes(x.state))) {
      const t = tokens[students.findIndex((u) => u.id === s.userId)];
      await request(f.portal.url).delete(`/api/labs/${s.id}`).set('Authorization', `Bearer ${t}`);
    }
    await until(sessions, (all) => all.every((s) => ['stopped', 'failed'].includes(s.state)), 60_000, 500);
    expect(await f.db.ds.query(`SELECT count(*)::int AS n FROM gpu_slots WHERE session_id IS NOT NULL`)).toEqual([
      { n: 0 },
    ]);
  }, 300_000);
});
