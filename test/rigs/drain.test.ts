import request from 'supertest';
import { LabSession } from '../../api/src/modules/labs/lab-session.entity';
import { RigDrainService } from '../../api/src/modules/rigs/rig-drain.service';
import { Rig } from '../../api/src/modules/rigs/rig.entity';
import {
  contents,
  enroll,
  jupyterThroughPortal,
  labPortal,
  newCourse,
  newRig,
  newTemplate,
  newUser,
  readProgress,
  tokenFor,
  until,
} from '../support/labs';
import { env } from '../support/services';

describe('draining a rig that runs a lab', () => {
  const f = labPortal({ RIG_DRAIN_CHECK_INTERVAL_S: '3600' });

  it('warns the lab, lets it run until the deadline, stops it with files kept, then moves the rig on', async () => {
    const course = await newCourse(f.db.ds);
    const template = await newTemplate(f.db.ds, course);
    await newRig(f.db.ds, 'rig-a', env.dockerHost);
    const student = await newUser(f.db.ds, 'sam');
    await enroll(f.db.ds, student, course);
    const token = await tokenFor(f.portal, student);
    const admin = await tokenFor(f.portal, await newUser(f.db.ds, 'ada', 'admin'), ['read', 'rigs:admin']);
    const launched = await request(f.portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${token}`)
      .send({ templateId: template.id });
    expect((await readProgress(f.portal, launched.body.id, token)).pop()).toMatchObject({ ready: true });
    const files = contents(jupyterThroughPortal(f.portal, 'sam', 'python-basics', token));
    await files.save('notes.txt', { type: 'file', format: 'text', content: 'keep me' });

    const drain = await request(f.portal.url)
      .post('/api/rigs/rig-a/state')
      .set('Authorization', `Bearer ${admin}`)
      .send({ to: 'maintenance', reason: 'fan swap', deadline: '4s' });
    expect(drain.body).toMatchObject({ state: 'draining', drainTarget: 'maintenance' });

    // Warned at once, still running: the student may finish.
    const lab = await request(f.portal.url)
      .get(`/api/labs/${launched.body.id}`)
      .set('Authorization', `Bearer ${token}`);
    expect(lab.body.state).toBe('ready');
    expect(lab.body.stateReason).toMatch(
      /^This lab's machine is being taken out of service \(fan swap\)\. Save your work: the lab will stop at .*Your files are kept\.$/,
    );
    const drains = f.portal.app.get(RigDrainService);
    expect(await drains.enforce()).toEqual({ warned: 0, stopped: 0, movedOn: 0 });
    // A new launch does not land on the draining rig.
    const other = await newUser(f.db.ds, 'kim');
    await enroll(f.db.ds, other, course);
    const refused = await request(f.portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${await tokenFor(f.portal, other)}`)
      .send({ templateId: template.id });
    expect((await f.db.ds.getRepository(LabSession).findOneByOrFail({ id: refused.body.id })).rigId).toBeNull();

    await new Promise((r) => setTimeout(r, 4200));
    expect(await drains.enforce()).toMatchObject({ stopped: 1 });
    const stopped = await until(
      () => f.db.ds.getRepository(LabSession).findOneByOrFail({ id: launched.body.id }),
      (s) => s.state === 'stopped',
      30_000,
    );
    expect(stopped.stateReason).toBe('its machine (rig rig-a) was drained: fan swap');
    await request(f.portal.url)
      .delete(`/api/labs/${refused.body.id}`)
      .set('Authorization', `Bearer ${await tokenFor(f.portal, other)}`);
    await until(
      () => f.db.ds.getRepository(LabSession).findOneByOrFail({ id: refused.body.id }),
      (s) => !['queued', 'placing', 'starting', 'ready', 'stopping'].includes(s.state),
      30_000,
    );
    expect(await drains.enforce()).toMatchObject({ movedOn: 1 });
    expect((await f.db.ds.getRepository(Rig).findOneByOrFail({ name: 'rig-a' })).state).toBe('maintenance');

    // Files kept: the same student's next lab (on a rig back in the pool) still has them.
    await f.db.ds.getRepository(Rig).update({ name: 'rig-a' }, { state: 'active' });
    const again = await request(f.portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${token}`)
      .send({ templateId: template.id });
    expect((await readProgress(f.portal, again.body.id, token)).pop()).toMatchObject({ ready: true });
    const kept = await contents(jupyterThroughPortal(f.portal, 'sam', 'python-basics', token)).get('notes.txt', {
      content: true,
    });
    expect(kept.content).toBe('keep me');
  }, 180_000);
});
