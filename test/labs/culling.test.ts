import { KernelManager, ServerConnection } from '@jupyterlab/services';
import request from 'supertest';
import { CullerService } from '../../api/src/modules/labs/culler.service';
import { LabSession } from '../../api/src/modules/labs/lab-session.entity';
import {
  enroll,
  jupyterThroughPortal,
  newCourse,
  newRig,
  newTemplate,
  newUser,
  readProgress,
  tokenFor,
  until,
  labPortal,
} from '../support/labs';
import { env } from '../support/services';

describe('idle culling', () => {
  const f = labPortal({ CULL_WARN_S: '2' });

  it('spares a busy kernel, warns an idle lab first and then stops it', async () => {
    const course = await newCourse(f.db.ds);
    const template = await newTemplate(f.db.ds, course, { slug: 'short', idleTimeoutS: 4 });
    await newRig(f.db.ds, 'rig-a', env.dockerHost);
    const [busy, idle] = [await newUser(f.db.ds, 'trainer'), await newUser(f.db.ds, 'sleeper')];
    for (const u of [busy, idle]) await enroll(f.db.ds, u, course);
    const tokens = [await tokenFor(f.portal, busy), await tokenFor(f.portal, idle)];
    const labs: string[] = [];
    for (const t of tokens) {
      const res = await request(f.portal.url)
        .post('/api/labs')
        .set('Authorization', `Bearer ${t}`)
        .send({ templateId: template.id });
      expect((await readProgress(f.portal, res.body.id, t)).pop()).toMatchObject({ ready: true });
      labs.push(res.body.id);
    }

    // A long "training run" keeps one kernel busy.
    const kernels = new KernelManager({
      serverSettings: jupyterThroughPortal(f.portal, 'trainer', 'short', tokens[0]),
    });
    const kernel = await kernels.startNew({ name: 'python3' });
    kernel.requestExecute({ code: 'import time; time.sleep(60)' });
    // Wait until the server itself reports the kernel busy (what the culler reads), not just the
    // client: on a slow machine the kernel may still be starting when the client first says "busy".
    const settings = jupyterThroughPortal(f.portal, 'trainer', 'short', tokens[0]);
    const serverState = async (): Promise<string | undefined> => {
      const url = `${settings.baseUrl}api/kernels?no_track_activity=1`;
      const res = await ServerConnection.makeRequest(url, {}, settings);
      const list = (await res.json()) as Array<{ id: string; execution_state: string }>;
      return list.find((k) => k.id === kernel.id)?.execution_state;
    };
    expect(await until(serverState, (s) => s === 'busy', 30_000, 100)).toBe('busy');
    try {
      const culler = f.portal.app.get(CullerService);
      await new Promise((r) => setTimeout(r, 3000)); // within 2 s of the 4 s idle timeout: time to warn
      expect(await culler.cull()).toEqual({ warned: 1, stopped: 0 });
      const warned = await request(f.portal.url)
        .get(`/api/labs/${labs[1]}`)
        .set('Authorization', `Bearer ${tokens[1]}`);
      expect(warned.body.state).toBe('ready');
      expect(warned.body.warning.message).toMatch(/^Your lab will stop at .* because it was idle for 4 s/);
      const trainerView = await request(f.portal.url)
        .get(`/api/labs/${labs[0]}`)
        .set('Authorization', `Bearer ${tokens[0]}`);
      expect(trainerView.body.warning).toBeNull();

      await new Promise((r) => setTimeout(r, 2500));
      expect(await culler.cull()).toEqual({ warned: 0, stopped: 1 });
      const stopped = await until(
        () => f.db.ds.getRepository(LabSession).findOneByOrFail({ id: labs[1] }),
        (s) => s.state === 'stopped',
        30_000,
      );
      expect(stopped.stateReason).toBe('stopped because it was idle for 4 s');
      expect((await f.db.ds.getRepository(LabSession).findOneByOrFail({ id: labs[0] })).state).toBe('ready');
      expect(await culler.cull()).toEqual({ warned: 0, stopped: 0 });
    } finally {
      await kernel.shutdown().catch(() => undefined);
      kernel.dispose();
      kernels.dispose();
    }
  }, 120_000);
});
