import { judgeCheck, parseCheckOutput, planChecks, type GpuPlanInput } from './checks';

const plan = (over: Partial<GpuPlanInput>) =>
  planChecks({ runtimes: ['runc'], amdKfd: null, gpus: [], gpuImage: null, gpuImagePresent: false, ...over }).map(
    (c) => [c.name, c.kind, c.kind === 'not-available' ? c.reason : ''],
  );

describe('planChecks', () => {
  it('always checks CPU, memory and disk, and says why there is no GPU test on a rig without GPUs', () => {
    expect(plan({})).toEqual([
      ['cpu', 'cpu', ''],
      ['memory', 'memory', ''],
      ['disk', 'disk', ''],
      [
        'gpu',
        'not-available',
        'no GPUs are registered for this rig and its engine has no GPU runtime (runtimes: runc)',
      ],
    ]);
    expect(plan({ runtimes: ['nvidia', 'runc'] })[3][2]).toBe(
      'the engine has the NVIDIA runtime but no GPUs are registered for this rig (riglab gpu add)',
    );
  });

  it('makes an NVIDIA GPU not-available without the runtime, without an image, or without the image on the rig', () => {
    const gpus = [{ index: 1, driver: 'nvidia' as const, deviceIds: ['GPU-1'] }];
    expect(plan({ gpus })[3]).toEqual([
      'gpu:1',
      'not-available',
      "the rig's engine has no NVIDIA runtime (runtimes: runc)",
    ]);
    expect(plan({ gpus, runtimes: ['nvidia'] })[3][2]).toBe(
      'no GPU burn-in image is configured (RIG_BURNIN_GPU_IMAGE is empty)',
    );
    expect(plan({ gpus, runtimes: ['nvidia'], gpuImage: 'lab/gpu-burn:1' })[3][2]).toBe(
      'the GPU burn-in image lab/gpu-burn:1 is not on this rig (no registry is used: docker load it there)',
    );
    expect(plan({ gpus, runtimes: ['nvidia'], gpuImage: 'lab/gpu-burn:1', gpuImagePresent: true })[3]).toEqual([
      'gpu:1',
      'gpu-image',
      '',
    ]);
  });

  it('checks AMD GPUs only where /dev/kfd exists, device-node GPUs by opening their nodes, and orders GPUs by index', () => {
    const gpus = [
      { index: 2, driver: 'amd' as const, deviceIds: ['/dev/dri/renderD129'] },
      { index: 0, driver: 'devices' as const, deviceIds: ['/dev/nvidia0'] },
      { index: 1, driver: 'none' as const, deviceIds: [] },
    ];
    expect(plan({ gpus, amdKfd: false }).slice(3)).toEqual([
      ['gpu:0', 'devices', ''],
      ['gpu:1', 'not-available', "the GPU is registered with driver 'none': nothing hands it to containers"],
      ['gpu:2', 'not-available', 'the rig has no /dev/kfd (the AMD compute driver is not loaded)'],
    ]);
    expect(plan({ gpus, amdKfd: true, gpuImage: 'rocm-burn', gpuImagePresent: true })[5][1]).toBe('gpu-image');
  });
});

describe('parseCheckOutput', () => {
  it('reads figures, the detail and the failure, dropping figures that are not numbers', () => {
    const out = parseCheckOutput(
      'figure ops 203\r\nfigure opsPerSecond 67.2\r\nfigure broken NaN\r\nfigure x 1 2\r\ndetail first\r\nSegmentation fault\r\ndetail hashed it\r\nfail 2 of 203 sums differed\r\nfail later\r\n',
    );
    expect(out).toEqual({
      figures: { ops: 203, opsPerSecond: 67.2 },
      detail: 'hashed it',
      failure: '2 of 203 sums differed',
      lastOther: 'Segmentation fault',
    });
  });
});

describe('judgeCheck', () => {
  const base = { output: '', exitCode: 0, oomKilled: false, timedOut: false, budgetMs: 2500, memoryLimitMb: 64 };
  it('passes on exit 0 with the detail and figures', () => {
    expect(judgeCheck('cpu', { ...base, output: 'figure ops 3\ndetail did it\n' })).toEqual({
      name: 'cpu',
      status: 'passed',
      detail: 'did it',
      figures: { ops: 3 },
    });
  });
  it('fails with the reason that matters most: time budget, memory, the script, the exit', () => {
    const j = (over: Partial<typeof base>) => judgeCheck('memory', { ...base, ...over });
    expect(j({ timedOut: true, exitCode: 137, output: 'fail x' }).detail).toBe(
      'did not finish within its time budget of 2.5 s and was killed',
    );
    expect(j({ oomKilled: true, exitCode: 137 }).detail).toBe(
      'killed for running out of memory (container limit 64 MiB)',
    );
    expect(j({ exitCode: 1, output: 'figure mismatches 2\nfail 2 of 16 MiB read back different\n' })).toMatchObject({
      status: 'failed',
      detail: '2 of 16 MiB read back different',
      figures: { mismatches: 2 },
    });
    expect(j({ exitCode: 0, output: 'fail said so' }).status).toBe('failed');
    expect(j({ exitCode: 137 }).detail).toBe('killed (exit 137) before it finished');
    expect(j({ exitCode: 127, output: 'sh: gpu-burn: not found\n' }).detail).toBe(
      'exited with code 127: sh: gpu-burn: not found',
    );
    expect(j({ exitCode: 3 }).detail).toBe('exited with code 3 without saying why');
  });
});
