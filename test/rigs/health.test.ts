import request from 'supertest';
import type { GpuSample, RigSample } from '../../spawner/src/probes/sample';
import { LabSession } from '../../api/src/modules/labs/lab-session.entity';
import { RigHealthService } from '../../api/src/modules/rig-health/rig-health.service';
import { Gpu, Rig, RigEvent } from '../../api/src/modules/rigs/rig.entity';
import {
  enroll,
  labPortal,
  makeDeviceNode,
  newCourse,
  newDeviceGpu,
  newRig,
  newTemplate,
  newUser,
  readProgress,
  tokenFor,
} from '../support/labs';
import { env } from '../support/services';

const gpu = (index: number, xids: number[]): GpuSample => ({
  ...{ index, id: `GPU-${index}`, model: 'GTX 1070', driver: 'nvidia', driverVersion: null, pciBusId: null },
  ...{ temperatureC: 60, fanPercent: 40, fanRpm: null, powerW: null, powerLimitW: null, memoryUsedMb: null },
  ...{ memoryTotalMb: null, utilizationPercent: null, smClockMhz: null, memoryClockMhz: null, throttleReasons: [] },
  ...{ pcieGen: null, pcieGenMax: null, pcieWidth: 16, pcieWidthMax: 16, pcieReplays: 0, xids },
});
const sample = (gpus: GpuSample[]): RigSample => ({
  ...{ at: new Date().toISOString(), load1: null, cpus: null, memoryTotalMb: null, memoryAvailableMb: null },
  ...{ diskTotalMb: 100_000, diskFreeMb: 50_000, gpus, sensors: [], notAvailable: [] },
});

describe('health rules applied to a rig', () => {
  const f = labPortal({ RIG_PROBE_FAILURES_TO_DRAIN: '2' });

  it('quarantines a GPU with a critical Xid, so the next GPU lab lands on the other GPU', async () => {
    const course = await newCourse(f.db.ds);
    const template = await newTemplate(f.db.ds, course, { gpu: { required: true, models: ['GTX 1070'] } });
    const rig = await newRig(f.db.ds, 'rig-gpu', env.dockerHost);
    const [g0, g1] = [
      await newDeviceGpu(f.db.ds, rig, 0, makeDeviceNode(`/tmp/riglab-${f.deployment}-h0`)),
      await newDeviceGpu(f.db.ds, rig, 1, makeDeviceNode(`/tmp/riglab-${f.deployment}-h1`)),
    ];
    const health = f.portal.app.get(RigHealthService);
    const found = await health.ingest(rig.id, sample([gpu(0, [13, 79]), gpu(1, [13])]));
    expect(found.map((x) => x.rule)).toEqual(['xid']);
    const q = await f.db.ds.getRepository(Gpu).findOneByOrFail({ id: g0.id });
    expect([q.healthy, q.healthReason, q.quarantinedBy]).toEqual([
      false,
      'GPU 0 reported critical Xid error(s) 79',
      'rule',
    ]);
    // A clean sample right after does not lift it: only a whole clean window does.
    await health.ingest(rig.id, sample([gpu(0, []), gpu(1, [])]));
    expect((await f.db.ds.getRepository(Gpu).findOneByOrFail({ id: g0.id })).healthy).toBe(false);

    const student = await newUser(f.db.ds, 'sam');
    await enroll(f.db.ds, student, course);
    const token = await tokenFor(f.portal, student);
    const res = await request(f.portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${token}`)
      .send({ templateId: template.id });
    expect((await readProgress(f.portal, res.body.id, token)).pop()).toMatchObject({ ready: true });
    expect((await f.db.ds.getRepository(LabSession).findOneByOrFail({ id: res.body.id })).gpuId).toBe(g1.id);
  }, 120_000);

  it('drains the rig when the probe fails twice in a row, recording the rule in its history', async () => {
    const rig = await newRig(f.db.ds, 'rig-flaky', 'unix:///nowhere.sock');
    const health = f.portal.app.get(RigHealthService);
    await health.ingest(rig.id, null, { probeFailed: true });
    expect((await f.db.ds.getRepository(Rig).findOneByOrFail({ id: rig.id })).state).toBe('active');
    await health.ingest(rig.id, null, { probeFailed: true });
    const after = await f.db.ds.getRepository(Rig).findOneByOrFail({ id: rig.id });
    expect([after.state, after.drainedByRule, after.stateReason]).toEqual([
      'draining',
      true,
      'the telemetry probe failed 2 times in a row',
    ]);
    const [event] = await f.db.ds.getRepository(RigEvent).find({ where: { rigId: rig.id } });
    expect([event.fromState, event.toState, event.actor]).toEqual(['active', 'draining', 'rule:probe-failing']);
  });
});
