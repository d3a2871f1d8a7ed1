import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { LabSession } from '../../api/src/modules/labs/lab-session.entity';
import { Rig } from '../../api/src/modules/rigs/rig.entity';
import {
  containersOf,
  copyImage,
  enroll,
  LAB_IMAGE,
  labPortal,
  newCourse,
  newRig,
  newTemplate,
  newUser,
  tokenFor,
  until,
} from '../support/labs';
import { OwnEngine, ROOT } from '../support/services';

// A rig whose disk fills up: its engine's data root is a small loop-mounted file system, filled after
// the lab image is in. A launch placed there fails at once with a reason a student can read, leaves no
// container behind, and the rig is drained so that the next launches go elsewhere.

const run = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('faults: disk full on a rig', () => {
  const engine = new OwnEngine('full-rig', 'riglab11', '172.31.251.1/24');
  const stateDir = process.env.RIGLAB_STATE_DIR || join(ROOT, '.riglab');
  const dataRoot = join(stateDir, 'engines', 'full-rig', 'data');
  const scratch = mkdtempSync(join(tmpdir(), 'riglab-full-'));
  const f = labPortal({ LAUNCH_TIMEOUT_S: '60' });

  beforeAll(async () => {
    // 1.5 GB: room to load the 370 MB lab image (its archive and its layers), then filled to the last block.
    run('fallocate', ['-l', '1500M', join(scratch, 'disk.img')]);
    run('mkfs.ext4', ['-q', '-F', '-m', '0', join(scratch, 'disk.img')]);
    mkdirSync(dataRoot, { recursive: true });
    run('mount', ['-o', 'loop', join(scratch, 'disk.img'), dataRoot]);
    engine.start();
    copyImage(LAB_IMAGE, engine.endpoint);
    try {
      run('dd', ['if=/dev/zero', `of=${join(dataRoot, 'filler')}`, 'bs=1M', 'status=none']);
    } catch {
      // dd ends with "No space left on device": that is the point.
    }
    console.log(`full rig's disk: ${run('df', ['-h', dataRoot]).trim().split('\n').pop()}`);
  }, 240_000);

  afterAll(async () => {
    try {
      engine.stop();
    } finally {
      run('umount', ['-l', dataRoot]);
      rmSync(scratch, { recursive: true, force: true });
      rmSync(dataRoot, { recursive: true, force: true });
    }
  }, 120_000);

  it('fails a launch there at once with a clear reason, leaves no container, and drains the rig', async () => {
    const course = await newCourse(f.db.ds);
    const template = await newTemplate(f.db.ds, course, { memoryMb: 256 });
    const rig = await newRig(f.db.ds, 'rig-full', engine.endpoint);
    const student = await newUser(f.db.ds, 'fay');
    await enroll(f.db.ds, student, course);
    const token = await tokenFor(f.portal, student);

    const t0 = Date.now();
    const res = await request(f.portal.url)
      .post('/api/labs')
      .set('Authorization', `Bearer ${token}`)
      .send({ templateId: template.id });
    expect(res.status).toBe(202);
    const ended = await until(
      () => f.db.ds.getRepository(LabSession).findOneByOrFail({ id: res.body.id }),
      (s) => ['ready', 'failed'].includes(s.state),
      90_000,
      100,
    );
    console.log(
      `launch on the full rig: ${ended.state} after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${ended.stateReason}`,
    );
    expect(ended.state).toBe('failed');
    expect(ended.stateReason).toMatch(/^rig rig-full has no disk space left; your files are safe/);
    // The student sees the same reason.
    const seen = await request(f.portal.url).get(`/api/labs/${ended.id}`).set('Authorization', `Bearer ${token}`);
    expect(seen.body.stateReason ?? seen.body.reason ?? JSON.stringify(seen.body)).toMatch(/no disk space left/);

    const left = await until(
      () => containersOf(engine.endpoint, f.deployment),
      (c) => c.length === 0,
      30_000,
      500,
    );
    expect(left).toHaveLength(0);
    const flagged = await f.db.ds.getRepository(Rig).findOneByOrFail({ id: rig.id });
    console.log(`rig-full is now ${flagged.state}: ${flagged.stateReason}`);
    expect(flagged.state).toBe('draining');
    expect(flagged.stateReason).toMatch(/no disk space left/);
  }, 180_000);
});
