import { entryHash, GENESIS_HASH } from './ledger.canonical';
import { ChainCheckpoint, ChainRow, normalizeDraft, verifyChain } from './ledger.policy';

/** A whole chain of n entries, built the way LedgerService.append builds it. */
function chain(n: number): ChainRow[] {
  const rows: ChainRow[] = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const content = {
      at: new Date(Date.UTC(2026, 11, 1, 10, i)),
      kind: 'debit',
      userId: null,
      courseId: null,
      sessionId: null,
      gpuMinutes: `-${i}.0000`,
      cpuMinutes: '0.0000',
      actor: 'system',
      reason: `minute ${i}`,
      detail: { i },
      idemKey: null,
    };
    const hash = entryHash(prev, content);
    rows.push({ ...content, seq: String(i), prevHash: prev, hash });
    prev = hash;
  }
  return rows;
}

/** Renumbers rows 1..n in their array order, as a DBA shifting seqs would. */
const renumber = (rows: ChainRow[]) => rows.map((r, i) => ({ ...r, seq: String(i + 1) }));

async function verify(rows: ChainRow[], checkpoints: ChainCheckpoint[] = []) {
  async function* stream() {
    for (const r of rows) yield r;
  }
  return verifyChain(
    stream(),
    { seqsWithHash: async (h) => rows.filter((r) => r.hash === h).map((r) => r.seq) },
    checkpoints,
  );
}

describe('verifyChain', () => {
  it('accepts a whole chain and names its head', async () => {
    const rows = chain(5);
    expect(await verify(rows)).toEqual({ ok: true, entries: 5, headSeq: '5', headHash: rows[4].hash });
    expect(await verify([])).toEqual({ ok: true, entries: 0, headSeq: null, headHash: null });
  });

  it('reports an entry whose content was changed as altered, and still counts to the real head', async () => {
    const rows = chain(6);
    rows[2] = { ...rows[2], gpuMinutes: '-0.5000' };
    expect(await verify(rows)).toMatchObject({
      ok: false,
      entries: 6,
      headSeq: '6',
      firstBad: { seq: '3', problem: 'altered' },
    });
  });

  it('reports a changed prev_hash as altered (the hash commits to it)', async () => {
    const rows = chain(4);
    rows[1] = { ...rows[1], prevHash: rows[1].prevHash.replace(/^./, 'f') };
    expect((await verify(rows)).firstBad).toMatchObject({ seq: '2', problem: 'altered' });
  });

  it('reports a gap in seq as removed, at the first missing seq', async () => {
    const rows = chain(6);
    expect((await verify([...rows.slice(0, 2), ...rows.slice(4)])).firstBad).toMatchObject({
      seq: '3',
      problem: 'removed',
      detail: expect.stringContaining('seqs 3..4 are missing'),
    });
    expect((await verify(rows.slice(1))).firstBad).toMatchObject({ seq: '1', problem: 'removed' });
  });

  it('reports a removed entry as removed even when the seqs after it were renumbered', async () => {
    const rows = chain(6);
    expect((await verify(renumber([...rows.slice(0, 3), ...rows.slice(4)]))).firstBad).toMatchObject({
      seq: '4',
      problem: 'removed',
    });
  });

  it('reports two swapped entries as reordered', async () => {
    const rows = chain(6);
    const swapped = renumber([rows[0], rows[1], rows[3], rows[2], rows[4], rows[5]]);
    expect((await verify(swapped)).firstBad).toMatchObject({
      seq: '3',
      problem: 'reordered',
      detail: expect.stringContaining('the entry now at seq 4'),
    });
    const firstMoved = renumber([rows[1], rows[0], ...rows.slice(2)]);
    expect((await verify(firstMoved)).firstBad).toMatchObject({ seq: '1', problem: 'reordered' });
  });

  it('reports a well-forged entry slipped into the middle as inserted, at its own seq', async () => {
    const rows = chain(6);
    const forgedContent = { ...rows[2], reason: 'free minutes', gpuMinutes: '500.0000' };
    const forged = { ...forgedContent, prevHash: rows[1].hash, hash: entryHash(rows[1].hash, forgedContent) };
    expect((await verify(renumber([rows[0], rows[1], forged, ...rows.slice(2)]))).firstBad).toMatchObject({
      seq: '3',
      problem: 'inserted',
    });
  });

  it('reports an entry with a made-up link slipped in as inserted', async () => {
    const rows = chain(5);
    const c = { ...rows[1], reason: 'forged' };
    const forged = { ...c, prevHash: 'a'.repeat(64), hash: entryHash('a'.repeat(64), c) };
    expect((await verify(renumber([rows[0], rows[1], forged, ...rows.slice(2)]))).firstBad).toMatchObject({
      seq: '3',
      problem: 'inserted',
    });
  });

  it('reports a copy of an entry as inserted, naming the original', async () => {
    const rows = chain(4);
    expect((await verify(renumber([rows[0], rows[1], rows[1], rows[2], rows[3]]))).firstBad).toMatchObject({
      seq: '3',
      problem: 'inserted',
      detail: 'seq 3 is a copy of seq 2',
    });
  });

  it('reports entries cut off the end as removed when a checkpoint saw a longer chain', async () => {
    const rows = chain(8);
    const cp = [{ seq: '8', hash: rows[7].hash, at: '2026-12-01T11:00:00.000Z' }];
    expect(await verify(rows, cp)).toMatchObject({ ok: true });
    expect(await verify(rows.slice(0, 5), cp)).toMatchObject({
      ok: false,
      headSeq: '5',
      firstBad: { seq: '6', problem: 'removed', detail: expect.stringContaining('entries 6..8 were removed') },
    });
    expect((await verify([], cp)).firstBad).toMatchObject({ seq: '1', problem: 'removed' });
  });

  it('reports a cut end that grew again when the checkpointed entry is no longer the same', async () => {
    const rows = chain(6);
    const other = chain(7).map((r) => ({ ...r, reason: `${r.reason}!` }));
    const cp = [{ seq: '3', hash: rows[2].hash, at: '2026-12-01T11:00:00.000Z' }];
    // Rebuilt from scratch: a whole chain of its own, but not the one the checkpoint saw.
    const rebuilt = other.map((r, i) => {
      const prevHash = i === 0 ? GENESIS_HASH : '';
      return { ...r, prevHash };
    });
    let prev = GENESIS_HASH;
    for (const r of rebuilt) {
      r.prevHash = prev;
      r.hash = entryHash(prev, r);
      prev = r.hash;
    }
    expect((await verify(rebuilt, cp)).firstBad).toMatchObject({ seq: '3', problem: 'removed' });
  });
});

describe('normalizeDraft', () => {
  const draft = {
    kind: 'debit' as const,
    userId: '6F1C2A4E-0000-4000-8000-000000000001',
    courseId: null,
    actor: 'system',
    reason: 'metered',
  };

  it('puts a draft in the form it is stored and hashed in', () => {
    const at = new Date('2026-12-01T10:00:00.123Z');
    expect(normalizeDraft({ ...draft, gpuMinutes: -1.5, detail: { when: at, x: undefined }, at })).toEqual({
      ...draft,
      userId: '6f1c2a4e-0000-4000-8000-000000000001',
      sessionId: null,
      gpuMinutes: '-1.5000',
      cpuMinutes: '0.0000',
      detail: { when: '2026-12-01T10:00:00.123Z' },
      idemKey: null,
      at,
    });
  });

  it('names the field it cannot record', () => {
    expect(() => normalizeDraft({ ...draft, kind: 'gift' as never })).toThrow(/kind 'gift' is not one of refill/);
    expect(() => normalizeDraft({ ...draft, userId: 'sam' })).toThrow(/userId 'sam' is not a uuid/);
    expect(() => normalizeDraft({ ...draft, gpuMinutes: Number.NaN })).toThrow(/gpuMinutes: amount NaN/);
    expect(() => normalizeDraft({ ...draft, actor: '' })).toThrow(/actor must be 1..100 characters/);
    expect(() => normalizeDraft({ ...draft, detail: [] as never })).toThrow(/detail must be an object/);
    expect(() => normalizeDraft({ ...draft, at: new Date('nope') })).toThrow(/at must be a valid Date/);
  });
});
