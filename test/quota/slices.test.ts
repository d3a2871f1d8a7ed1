import Docker from 'dockerode';
import { request as httpRequest } from 'node:http';
import request from 'supertest';
import { LabSession } from '../../api/src/modules/labs/lab-session.entity';
import { LedgerService } from '../../api/src/modules/ledger/ledger.service';
import { CourseQuota } from '../../api/src/modules/quota/course-quota.entity';
import type { TestPortal } from '../support/app';
import {
  containersOf,
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

// GPU time slices and budgets with short durations, on real lab containers: warned, stopped with the
// files kept, slot freed, and the ledger right to within one metering step.

interface Note {
  at: number;
  message: string;
}

/** Follows a lab's notification stream (progress?follow=true) until it ends or `ms` pass. */
function follow(portal: TestPortal, id: string, token: string, ms: number): Promise<Note[]> {
  return new Promise((resolve) => {
    const notes: Note[] = [];
    const req = httpRequest(
      `${portal.url}/api/labs/${id}/progress?follow=true`,
      { headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' } },
      (res) => {
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const data = buf
              .slice(0, i)
              .split('\n')
              .find((l) => l.startsWith('data: '));
            buf = buf.slice(i + 2);
            if (data) notes.push({ at: Date.now(), message: JSON.parse(data.slice(6)).message });
          }
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve(notes);
        });
      },
    );
    req.on('error', () => resolve(notes));
    const timer = setTimeout(() => {
      req.destroy();
      resolve(notes);
    }, ms);
    req.end();
  });
}

const sessionOf = (f: ReturnType<typeof labPortal>, id: string) =>
  f.db.ds.getRepository(LabSession).findOneByOrFail({ id });

describe('GPU time slices and budgets', () => {
  const f = labPortal({
    LAUNCH_TIMEOUT_S: '120',
    QUOTA_METER_INTERVAL_S: '1',
    QUOTA_DEBIT_EVERY_S: '3',
    QUOTA_SLICE_WARN_S: '14,6',
    QUOTA_MIN_START_GPU_MINUTES: '0.1',
  });
  let rigReady: Promise<void>;
  beforeAll(() => {
    rigReady = (async () => {
      const rig = await newRig(f.db.ds, 'rig-gpu', env.dockerHost);
      await newDeviceGpu(f.db.ds, rig, 0, makeDeviceNode(`/tmp/riglab-${f.deployment}-gpu0`));
    })();
  });

  async function gpuLab(code: string, ceiling: Record<string, unknown>, allowCpuFallback = false) {
    await rigReady;
    const course = await newCourse(f.db.ds, code);
    await f.db.ds.getRepository(CourseQuota).save({ courseId: course.id, ceiling });
    const template = await newTemplate(f.db.ds, course, {
      slug: `${code.toLowerCase()}-gpu`,
      gpu: { required: true, allowCpuFallback },
      memoryMb: 384,
    });
    const student = await newUser(f.db.ds, `${code.toLowerCase()}-student`);
    await enroll(f.db.ds, student, course);
    const token = await tokenFor(f.portal, student);
    const res = await request(f.portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${token}`)
      .send({ templateId: template.id });
    expect(res.status).toBe(202);
    const ready = await until(
      () => sessionOf(f, res.body.id),
      (s) => s.state === 'ready' || s.state === 'failed',
      90_000,
    );
    expect(ready.state).toBe('ready');
    return { course, student, token, template, id: res.body.id as string, ready };
  }

  async function debitsOf(sessionId: string): Promise<number> {
    const [row] = await f.db.ds.query(
      `SELECT coalesce(-sum(gpu_minutes), 0)::float8 AS gpu FROM ledger_entries WHERE session_id = $1 AND kind = 'debit'`,
      [sessionId],
    );
    return row.gpu;
  }

  it('warns before a slice ends, then stops the lab with its files kept, frees the slot and charges the time', async () => {
    // A 30-second slice, warnings 14 and 6 seconds before its end.
    const lab = await gpuLab('SL1', { sliceMinutes: 0.5, gpuMinutesPerWeek: 100 });
    const view = await request(f.portal.url).get(`/api/labs/${lab.id}`).set('Authorization', `Bearer ${lab.token}`);
    expect(view.body.slice).toMatchObject({ gpuModel: 'GTX 1070' });
    const endsAt = new Date(view.body.slice.endsAt).getTime();
    expect(endsAt - Date.now()).toBeGreaterThan(10_000);
    expect(endsAt - Date.now()).toBeLessThanOrEqual(30_000);

    const notes = await follow(f.portal, lab.id, lab.token, 60_000);
    const warnings = notes.filter((n) => /GPU time slice ends in/.test(n.message));
    expect(warnings).toHaveLength(2);
    // Each warning came about when it was due (one metering interval of slack), the first before the second.
    expect(Math.abs(endsAt - warnings[0].at - 14_000)).toBeLessThan(3_000);
    expect(Math.abs(endsAt - warnings[1].at - 6_000)).toBeLessThan(3_000);
    expect(warnings[0].message).toMatch(/the lab then stops; your files are kept/);
    expect(notes.some((n) => /Your lab is stopping: its GPU time slice of 30 s ended/.test(n.message))).toBe(true);

    const stopped = await until(
      () => sessionOf(f, lab.id),
      (s) => s.state === 'stopped',
      30_000,
    );
    expect(stopped.state).toBe('stopped');
    expect(stopped.stoppedAt!.getTime() - endsAt).toBeLessThan(5_000);
    expect(await f.db.ds.query(`SELECT count(*)::int AS n FROM gpu_slots WHERE session_id IS NOT NULL`)).toEqual([
      { n: 0 },
    ]);
    expect((await containersOf(env.dockerHost, f.deployment)).filter((c) => c.State === 'running')).toHaveLength(0);
    // The home volume stays for the next launch.
    const docker = new Docker({ socketPath: env.dockerHost.replace('unix://', '') });
    const { Volumes } = await docker.listVolumes({
      filters: JSON.stringify({ label: [`org.riglab.deployment=${f.deployment}`] }),
    });
    expect(Volumes?.some((v) => v.Name.includes('sl1-student'))).toBe(true);

    // The ledger charged ready → stopped at rate 1 × share 1, to within a metering step, and verifies.
    const final = await until(
      async () => ({ s: await sessionOf(f, lab.id), d: await debitsOf(lab.id) }),
      (x) => x.s.meteredUntil !== null && x.s.meteredUntil.getTime() >= x.s.stoppedAt!.getTime(),
      15_000,
    );
    const used = (final.s.stoppedAt!.getTime() - final.s.readyAt!.getTime()) / 60_000;
    expect(final.d).toBeCloseTo(used, 2);
    expect(Number(final.s.gpuDebitedMinutes)).toBeCloseTo(final.d, 3);
    const entries = await f.db.ds.query(
      `SELECT detail FROM ledger_entries WHERE session_id = $1 AND kind = 'debit' ORDER BY seq`,
      [lab.id],
    );
    expect(entries.length).toBeGreaterThan(2);
    expect(entries[0].detail).toMatchObject({ rig: 'rig-gpu', gpuModel: 'GTX 1070', slotShare: 1, rate: 1 });
    expect((await f.portal.app.get(LedgerService).verify()).ok).toBe(true);
  }, 180_000);

  it('stops a lab within seconds of its GPU budget running out, after warning, and the ledger balances', async () => {
    // 0.4 GPU-minutes (24 s of use) for the week; the slice is far longer.
    const lab = await gpuLab('BU1', { sliceMinutes: 30, gpuMinutesPerWeek: 0.4 });
    const notes = await follow(f.portal, lab.id, lab.token, 60_000);
    expect(notes.filter((n) => /GPU-minutes for this week run out in/.test(n.message)).length).toBeGreaterThanOrEqual(
      1,
    );
    const stopping = notes.find((n) =>
      /Your lab is stopping: your GPU-minutes for this week are used up; they refill on/.test(n.message),
    );
    expect(stopping).toBeDefined();
    const stopped = await until(
      () => sessionOf(f, lab.id),
      (s) => s.state === 'stopped' && s.meteredUntil !== null && s.meteredUntil >= s.stoppedAt!,
      30_000,
    );
    expect(stopped.state).toBe('stopped');
    const used = (stopped.stoppedAt!.getTime() - stopped.readyAt!.getTime()) / 60_000;
    // Stopped within 30 s of the budget reaching zero (here: within a few metering intervals).
    expect(used).toBeGreaterThan(0.3);
    expect(used - 0.4).toBeLessThan(0.5);
    const [balance] = await f.db.ds.query(
      `SELECT sum(gpu_minutes)::float8 AS left FROM ledger_entries WHERE user_id = $1 AND course_id = $2`,
      [lab.student.id, lab.course.id],
    );
    expect(balance.left).toBeCloseTo(0.4 - used, 2);
    expect(await f.db.ds.query(`SELECT count(*)::int AS n FROM gpu_slots WHERE session_id IS NOT NULL`)).toEqual([
      { n: 0 },
    ]);
    // A new GPU launch is refused now, saying why.
    const again = await request(f.portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${lab.token}`)
      .send({ templateId: lab.template.id });
    expect(again.status).toBe(429);
    expect(again.body.code).toBe('quota_gpu_budget');
  }, 180_000);

  it('continues on CPU after the slice when the template allows it', async () => {
    const lab = await gpuLab('CF1', { sliceMinutes: 0.25, gpuMinutesPerWeek: 100 }, true);
    const next = await until(
      () => f.db.ds.getRepository(LabSession).find({ where: { userId: lab.student.id }, order: { createdAt: 'ASC' } }),
      (all) => all.length === 2 && all[1].state === 'ready',
      90_000,
      500,
    );
    expect(next[0].state).toBe('stopped');
    expect(next[0].stateReason).toMatch(/GPU time slice of 15 s ended; it continues on CPU/);
    expect(next[1]).toMatchObject({ cpuOnly: true, state: 'ready', name: next[0].name, gpuId: null });
    // The CPU lab has no GPU device and holds no slot; it costs no GPU time.
    const [c] = (await containersOf(env.dockerHost, f.deployment)).filter((x) => x.State === 'running');
    const inspect = await new Docker({ socketPath: env.dockerHost.replace('unix://', '') })
      .getContainer(c.Id)
      .inspect();
    expect(inspect.HostConfig.Devices ?? []).toEqual([]);
    expect(await f.db.ds.query(`SELECT count(*)::int AS n FROM gpu_slots WHERE session_id IS NOT NULL`)).toEqual([
      { n: 0 },
    ]);
    const view = await request(f.portal.url).get(`/api/labs/${next[1].id}`).set('Authorization', `Bearer ${lab.token}`);
    expect(view.body).toMatchObject({ cpuOnly: true, slice: null, state: 'ready' });
    await request(f.portal.url).delete(`/api/labs/${next[1].id}`).set('Authorization', `Bearer ${lab.token}`);
  }, 180_000);
});
