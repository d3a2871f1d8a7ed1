import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entryHash } from '../../api/src/modules/ledger/ledger.canonical';
import { entryOfRow, LedgerService } from '../../api/src/modules/ledger/ledger.service';
import { courseWorld } from '../courses/support';
import { env, ROOT } from '../support/services';

const BIN = join(ROOT, 'api', 'bin', 'riglab.js');

/**
 * Someone with database rights (the trigger disabled, as a DBA could) rewrites the ledger; verify,
 * through the API and through the CLI, names the first entry touched and what was done to it.
 */
describe('tampering with the usage ledger', () => {
  const w = courseWorld();
  const sql = (q: string, p?: unknown[]) => w.db.ds.query(q, p);
  const dir = mkdtempSync(join(tmpdir(), 'riglab-ledger-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function riglab(...args: string[]) {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      env: {
        PATH: process.env.PATH,
        RIGLAB_ENV_FILE: '',
        DATABASE_URL: w.db.url,
        REDIS_URL: env.redisUrl,
        SESSION_SECRET: 'y'.repeat(40),
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
  }

  async function asDba(work: () => Promise<unknown>) {
    await sql(`ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only`);
    await sql(`ALTER TABLE ledger_checkpoints DISABLE TRIGGER ledger_checkpoints_append_only`);
    try {
      await work();
    } finally {
      await sql(`ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_append_only`);
      await sql(`ALTER TABLE ledger_checkpoints ENABLE TRIGGER ledger_checkpoints_append_only`);
    }
  }

  const apiVerify = async () => (await w.as('admin').get('/api/ledger/verify')).body;

  beforeEach(async () => {
    await asDba(() => sql(`TRUNCATE ledger_entries, ledger_checkpoints`));
    const ledger = w.portal.app.get(LedgerService);
    const base = { userId: w.users.student.id, courseId: w.course.id, actor: 'system' };
    await ledger.append([{ ...base, kind: 'refill', gpuMinutes: 120, cpuMinutes: 600, reason: 'weekly allowance' }]);
    for (let i = 2; i <= 10; i++)
      await ledger.append([
        {
          ...base,
          kind: 'debit',
          gpuMinutes: -i,
          reason: `GPU minute ${i}`,
          detail: { rig: 'rig-01', gpuModel: 'GTX 1070', rate: 1 },
        },
      ]);
    // A verify of the whole chain records its head (seq 10) as a checkpoint.
    expect(await apiVerify()).toMatchObject({ ok: true, entries: 10, headSeq: '10' });
  });

  // Moving seqs out of the way first, so no statement collides with the primary key midway.
  const shift = async (from: number, by: number) => {
    await sql(`UPDATE ledger_entries SET seq = seq + 1000000 WHERE seq >= $1`, [from]);
    await sql(`UPDATE ledger_entries SET seq = seq - 1000000 + $1::bigint WHERE seq >= 1000000`, [by]);
  };

  const cases: Array<[string, () => Promise<unknown>, { seq: string; problem: string }]> = [
    [
      'an amount changed',
      () => sql(`UPDATE ledger_entries SET gpu_minutes = -0.5 WHERE seq = 4`),
      { seq: '4', problem: 'altered' },
    ],
    [
      'a reason reworded',
      () => sql(`UPDATE ledger_entries SET reason = 'free minutes' WHERE seq = 1`),
      { seq: '1', problem: 'altered' },
    ],
    [
      'two entries swapped',
      async () => {
        await sql(`UPDATE ledger_entries SET seq = -5 WHERE seq = 5`);
        await sql(`UPDATE ledger_entries SET seq = 5 WHERE seq = 6`);
        await sql(`UPDATE ledger_entries SET seq = 6 WHERE seq = -5`);
      },
      { seq: '5', problem: 'reordered' },
    ],
    ['a middle entry deleted', () => sql(`DELETE FROM ledger_entries WHERE seq = 3`), { seq: '3', problem: 'removed' }],
    [
      'a middle entry deleted and the rest renumbered',
      async () => {
        await sql(`DELETE FROM ledger_entries WHERE seq = 3`);
        await shift(4, -1);
      },
      { seq: '3', problem: 'removed' },
    ],
    [
      'the last entries deleted',
      () => sql(`DELETE FROM ledger_entries WHERE seq > 7`),
      { seq: '8', problem: 'removed' },
    ],
    [
      'a forged entry slipped in, hashed the way riglab hashes',
      async () => {
        const [five] = await sql(`SELECT * FROM ledger_entries WHERE seq = 5`);
        const prev = entryOfRow(five);
        const forged = { ...prev, gpuMinutes: '500.0000', kind: 'credit', reason: 'refund', prevHash: prev.hash };
        await shift(6, 1);
        await sql(
          `INSERT INTO ledger_entries (seq, at, kind, user_id, course_id, gpu_minutes, cpu_minutes, actor, reason, detail, prev_hash, hash)
           VALUES (6, $1, 'credit', $2, $3, 500, 0, 'system', 'refund', $4, $5, $6)`,
          [prev.at, prev.userId, prev.courseId, JSON.stringify(prev.detail), prev.hash, entryHash(prev.hash, forged)],
        );
      },
      { seq: '6', problem: 'inserted' },
    ],
  ];

  it.each(cases)('detects %s, through the API and the CLI', async (_name, tamper, expected) => {
    await asDba(tamper);
    expect(await apiVerify()).toMatchObject({ ok: false, firstBad: expected });
    const cli = riglab('ledger', 'verify');
    expect(cli.code).toBe(1);
    expect(cli.out).toContain(`ledger chain BROKEN: the first bad entry is seq ${expected.seq} (${expected.problem})`);
    expect(cli.err).toContain(`the ledger chain is broken at seq ${expected.seq}`);
  });

  it('says the chain is intact on the CLI (exit 0), and records a CLI adjustment with the cli as actor', () => {
    expect(riglab('ledger', 'verify')).toMatchObject({
      code: 0,
      out: expect.stringMatching(/^database: ledger intact: 10 entries, head seq 10, hash [0-9a-f]{64}/),
    });
    const adj = riglab(
      'ledger',
      'adjust',
      '--user',
      'sam',
      '--course',
      'CS101:2026F',
      '--gpu-minutes',
      '15',
      '--reason',
      'exam extension',
    );
    expect(adj).toMatchObject({
      code: 0,
      out: 'recorded adjustment seq 11 for sam in CS101:2026F: 15 GPU-minutes, 0 CPU-minutes (exam extension)',
    });
    expect(riglab('ledger', 'adjust', '--user', 'sam', '--course', 'CS101:2026F', '--reason', 'nothing')).toMatchObject(
      {
        code: 2,
        err: 'riglab: error: give --gpu-minutes or --cpu-minutes',
      },
    );
    const listed = JSON.parse(riglab('ledger', 'list', '--user', 'sam', '--limit', '1', '--json').out);
    expect(listed).toEqual([
      expect.objectContaining({ seq: '11', kind: 'adjustment', actor: 'cli', reason: 'exam extension' }),
    ]);
  });

  it.each(['json', 'csv'])(
    'exports as %s for an auditor, who can verify the file without the database',
    async (format) => {
      const file = join(dir, `ledger.${format}`);
      expect(riglab('ledger', 'export', '--format', format, '--out', file)).toMatchObject({ code: 0 });
      const ok = spawnSync(process.execPath, [BIN, 'ledger', 'verify', '--file', file], {
        env: { PATH: process.env.PATH, RIGLAB_ENV_FILE: '' }, // no database at all
        encoding: 'utf8',
      });
      expect({ code: ok.status, out: ok.stdout.trim() }).toEqual({
        code: 0,
        out: expect.stringMatching(new RegExp(`^${file}: ledger intact: 10 entries, head seq 10`)),
      });
      // The same file as the API serves it.
      const api = await w.as('admin').get(`/api/ledger/export?format=${format}`);
      expect(api.text.replace(/"exportedAt":"[^"]+"/, '')).toBe(
        readFileSync(file, 'utf8').replace(/"exportedAt":"[^"]+"/, ''),
      );
      // An auditor's copy that someone edited no longer verifies.
      writeFileSync(file, readFileSync(file, 'utf8').replace('-4.0000', '-0.4000'));
      const bad = spawnSync(process.execPath, [BIN, 'ledger', 'verify', '--file', file], {
        env: { PATH: process.env.PATH, RIGLAB_ENV_FILE: '' },
        encoding: 'utf8',
      });
      expect({ code: bad.status, out: bad.stdout }).toEqual({
        code: 1,
        out: expect.stringContaining('the first bad entry is seq 4 (altered)'),
      });
    },
  );

  it('refuses a file that is not a ledger export, saying so', () => {
    const file = join(dir, 'notes.txt');
    writeFileSync(file, 'hello\n');
    const r = spawnSync(process.execPath, [BIN, 'ledger', 'verify', '--file', file], {
      env: { PATH: process.env.PATH, RIGLAB_ENV_FILE: '' },
      encoding: 'utf8',
    });
    expect({ code: r.status, err: r.stderr.trim() }).toEqual({
      code: 2,
      err: expect.stringMatching(/^riglab: error: the file is neither a JSON ledger export nor a CSV one/),
    });
  });
});
