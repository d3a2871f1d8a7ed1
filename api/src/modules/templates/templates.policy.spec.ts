import {
  changedFields,
  checkDraft,
  checkPatch,
  describeGpu,
  draftOfVersion,
  gpuPolicyOf,
  versionFieldsOf,
  type TemplateDraft,
} from './templates.policy';

/** A draft that passes the rules, as the service gets it. */
function valid(input: unknown): TemplateDraft {
  const r = checkDraft(input);
  if (!r.ok) throw new Error(r.problems.join('; '));
  return r.value;
}

const draft = {
  slug: 'intro',
  title: 'Intro',
  image: 'riglab/lab-python-basics:6fd45d5cc9d9',
  cpus: 1,
  memoryMb: 1024,
};

describe('template rules', () => {
  describe(checkDraft.name, () => {
    it('fills defaults for what a draft leaves out', () => {
      const r = checkDraft(draft);
      expect(r).toEqual({
        ok: true,
        value: {
          ...draft,
          description: '',
          pids: 512,
          gpu: { mode: 'none' },
          idleTimeoutMinutes: 30,
          maxSessionHours: 8,
          env: {},
          starterFolder: null,
        },
      });
    });

    it.each([
      [{ image: 'Not An Image!' }, 'image: must be a Docker image reference'],
      [{ memoryMb: 64 }, 'memoryMb: must be at least 128'],
      [{ maxSessionHours: 0.1 }, 'maxSessionHours: must be at least 0.25 (15 minutes)'],
      [{ gpu: { mode: 'shared' } }, "gpu.minVramMb: is required with mode 'shared' (MiB of VRAM)"],
      [{ gpu: { mode: 'half' } }, 'gpu.mode: must be one of none, whole, shared'],
      [{ gpu: { mode: 'whole', driverKinds: ['cuda'] } }, 'gpu.driverKinds.0: must be one of nvidia, amd, devices'],
      [{ gpu: { mode: 'none', required: true } }, "gpu: required=true contradicts mode 'none'"],
      [{ env: { RIGLAB_BASE_URL: '/x' } }, 'env.RIGLAB_BASE_URL: JUPYTER_* and RIGLAB_* are set by riglab itself'],
      [{ env: { '1ABC': 'x' } }, 'env.1ABC: names are A-Z, 0-9 and _'],
      [{ starterFolder: '/etc' }, 'starterFolder: must be a folder under course-templates/'],
      [{ extra: 1 }, 'unknown field(s): extra'],
    ])('refuses %j, saying %s', (patch, message) => {
      const r = checkDraft({ ...draft, ...patch });
      expect(r.ok).toBe(false);
      expect(r.ok ? '' : r.problems.join('; ')).toContain(message);
    });

    it('refuses a body that is no object', () => {
      expect(checkDraft([draft])).toEqual({ ok: false, problems: ['the body must be a JSON object'] });
    });
  });

  it('leaves absent fields out of a patch, and never takes a slug', () => {
    expect(checkPatch({ cpus: 2 })).toEqual({ ok: true, value: { cpus: 2 } });
    expect(checkPatch({ slug: 'x' })).toEqual({ ok: false, problems: ['unknown field(s): slug'] });
  });

  describe(gpuPolicyOf.name, () => {
    it('stores the contract shape, reading old files that say `required` only as whole', () => {
      expect(gpuPolicyOf({ mode: 'none', models: ['x'] })).toEqual({ required: false });
      expect(gpuPolicyOf({ required: true })).toEqual({ required: true, mode: 'whole', allowCpuFallback: false });
      expect(
        gpuPolicyOf({
          mode: 'shared',
          minVramMb: 4096,
          models: ['GTX 1070'],
          driverKinds: ['nvidia'],
          allowCpuFallback: true,
        }),
      ).toEqual({
        required: true,
        mode: 'shared',
        minVramMb: 4096,
        models: ['GTX 1070'],
        driverKinds: ['nvidia'],
        allowCpuFallback: true,
      });
    });
  });

  describe(changedFields.name, () => {
    const base = versionFieldsOf(valid(draft));
    it('finds nothing changed in the same fields with keys in another order', () => {
      expect(changedFields(base, { ...base, env: {} })).toEqual([]);
      const a = { ...base, env: { A: '1', B: '2' } };
      expect(changedFields(a, { ...a, env: { B: '2', A: '1' } })).toEqual([]);
    });
    it('names each changed field, and all of them for a first version', () => {
      expect(changedFields(base, { ...base, memoryMb: 2048, starterArchiveId: 'x' })).toEqual([
        'memoryMb',
        'starterArchiveId',
      ]);
      expect(changedFields(null, base)).toHaveLength(10);
    });
    it('reads a version back into the draft it came from', () => {
      const d = valid({ ...draft, gpu: { mode: 'whole', models: ['RTX 3060'] }, env: { X: '1' } });
      const back = draftOfVersion(versionFieldsOf(d));
      expect(changedFields(versionFieldsOf(d), versionFieldsOf({ ...d, ...back }))).toEqual([]);
    });
  });

  it('describes GPU policies in words a student understands, old rows included', () => {
    expect(describeGpu({ required: false })).toBe('no GPU (CPU only)');
    expect(describeGpu({ required: true })).toBe(
      'one whole GPU (any model); when the GPU time slice ends the lab stops (files are kept)',
    );
    expect(
      describeGpu({ required: true, mode: 'shared', minVramMb: 6144, driverKinds: ['nvidia'], allowCpuFallback: true }),
    ).toBe(
      'a shared GPU slot with at least 6 GiB of GPU memory (drivers nvidia); when the GPU time slice ends the lab carries on without the GPU',
    );
  });
});
