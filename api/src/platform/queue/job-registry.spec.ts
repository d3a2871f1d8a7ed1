import { buildHandlerMap, JobRegistryError } from './job-registry';

const h = async () => undefined;

describe(buildHandlerMap.name, () => {
  const declared = ['probe-rigs', 'launch-lab'];

  it('maps each declared job to its one handler', () => {
    const map = buildHandlerMap(
      [
        { job: 'probe-rigs', owner: 'A.a', handler: h },
        { job: 'launch-lab', owner: 'B.b', handler: h },
      ],
      declared,
    );
    expect([...map.keys()].sort()).toEqual(['launch-lab', 'probe-rigs']);
  });

  it('refuses a job that has no handler, naming it', () => {
    expect(() => buildHandlerMap([{ job: 'probe-rigs', owner: 'A.a', handler: h }], declared)).toThrow(
      new JobRegistryError("job registry is invalid: job 'launch-lab' has no handler"),
    );
  });

  it('refuses a job with two handlers, naming both', () => {
    expect(() =>
      buildHandlerMap(
        [
          { job: 'probe-rigs', owner: 'A.a', handler: h },
          { job: 'probe-rigs', owner: 'C.c', handler: h },
          { job: 'launch-lab', owner: 'B.b', handler: h },
        ],
        declared,
      ),
    ).toThrow(/job 'probe-rigs' has two handlers: A.a and C.c/);
  });

  it('refuses a handler for a job nobody declared', () => {
    expect(() =>
      buildHandlerMap(
        [
          { job: 'probe-rigs', owner: 'A.a', handler: h },
          { job: 'launch-lab', owner: 'B.b', handler: h },
          { job: 'typo-job', owner: 'D.d', handler: h },
        ],
        declared,
      ),
    ).toThrow(/handler D.d is for unknown job 'typo-job'/);
  });
});
