import { DataSource } from 'typeorm';
import { LedgerService } from '../../api/src/modules/ledger/ledger.service';
import { createDataSource } from '../../api/src/platform/db/data-source';
import { auditActions, courseWorld } from '../courses/support';

/** The ledger as the rest of the portal uses it: appends from many places at once, corrections, reading it back. */
describe(LedgerService.name, () => {
  const w = courseWorld();
  const ledger = () => w.portal.app.get(LedgerService);
  const rows = (): Promise<Array<{ seq: string; actor: string; reason: string; gpu_minutes: string }>> =>
    w.db.ds.query(`SELECT seq, actor, reason, gpu_minutes FROM ledger_entries ORDER BY seq`);
  const draft = (reason: string, gpuMinutes = -1) => ({
    kind: 'debit' as const,
    userId: w.users.student.id,
    courseId: w.course.id,
    gpuMinutes,
    actor: 'system',
    reason,
    detail: { rig: 'rig-01', gpuModel: 'GTX 1070', rate: 1 },
  });

  describe('appending', () => {
    const pools: DataSource[] = [];
    afterAll(() => Promise.all(pools.map((p) => p.destroy())));

    it('keeps seq gap-free and the chain whole under 200 appends from 20 callers on their own connections', async () => {
      // Each caller has a connection pool of its own, as a separate portal process would.
      for (let i = 0; i < 20; i++) pools.push(await createDataSource(w.db.url).initialize());
      await Promise.all(
        pools.map(async (ds, caller) => {
          const service = new LedgerService(ds);
          for (let k = 0; k < 10; k++) await service.append([draft(`caller ${caller} append ${k}`)]);
        }),
      );
      const all = await rows();
      expect(all.map((r) => r.seq)).toEqual(Array.from({ length: 200 }, (_, i) => String(i + 1)));
      // Each caller's own appends stay in the order it made them.
      for (let caller = 0; caller < 20; caller++) {
        const mine = all.filter((r) => r.reason.startsWith(`caller ${caller} `)).map((r) => r.reason);
        expect(mine).toEqual(Array.from({ length: 10 }, (_, k) => `caller ${caller} append ${k}`));
      }
      expect(await ledger().verify()).toMatchObject({ ok: true, entries: 200, headSeq: '200' });
    });

    it('records an idempotency key once, however many callers race with it, and returns the first entry', async () => {
      const before = (await rows()).length;
      const results = await Promise.all(
        pools
          .slice(0, 8)
          .map((ds) => new LedgerService(ds).append([{ ...draft('slice 42 minute 3'), idemKey: 'lab:42:m3' }])),
      );
      const seqs = new Set(results.map(([e]) => e.seq));
      expect(seqs.size).toBe(1);
      expect((await rows()).length).toBe(before + 1);
      const again = await ledger().append([
        { ...draft('slice 42 minute 3'), idemKey: 'lab:42:m3' },
        { ...draft('slice 42 minute 4'), idemKey: 'lab:42:m4' },
      ]);
      expect(again[0].seq).toBe([...seqs][0]);
      expect(Number(again[1].seq)).toBe(before + 2);
    });

    it("commits with the caller's transaction: a rolled-back debit leaves no entry and no gap", async () => {
      const head = (await rows()).length;
      await expect(
        w.db.ds.transaction(async (m) => {
          await ledger().append([draft('debit for a launch that fails')], m);
          throw new Error('launch failed');
        }),
      ).rejects.toThrow('launch failed');
      const [e] = await ledger().append([draft('next debit')]);
      expect(e.seq).toBe(String(head + 1));
      expect((await rows()).map((r) => r.reason)).not.toContain('debit for a launch that fails');
      expect(await ledger().verify()).toMatchObject({ ok: true, entries: head + 1 });
    });

    it('refuses a draft it cannot record, naming the field, and writes nothing', async () => {
      const head = (await rows()).length;
      await expect(ledger().append([draft('fine'), { ...draft('bad'), gpuMinutes: Number.NaN }])).rejects.toThrow(
        'ledger entry 2: gpuMinutes: amount NaN is not a finite number',
      );
      await expect(ledger().append([{ ...draft('bad'), kind: 'gift' as never }])).rejects.toThrow(/kind 'gift'/);
      expect((await rows()).length).toBe(head);
    });

    it('refuses UPDATE, DELETE and TRUNCATE at the database, with a message saying what to do instead', async () => {
      const before = await rows();
      for (const sql of [
        `UPDATE ledger_entries SET gpu_minutes = 100 WHERE seq = 1`,
        `DELETE FROM ledger_entries WHERE seq = 1`,
        `DELETE FROM ledger_entries WHERE false`,
        `TRUNCATE ledger_entries`,
      ])
        await expect(w.db.ds.query(sql)).rejects.toThrow(
          'the usage ledger is append-only: record a correction as a new entry',
        );
      await expect(w.db.ds.query(`DELETE FROM ledger_checkpoints`)).rejects.toThrow(/checkpoints are append-only/);
      expect(await rows()).toEqual(before);
    });
  });

  describe('GET /api/ledger and POST /api/ledger/adjustments', () => {
    it('records an adjustment as a new entry with the admin as actor, the reason, and an audit event', async () => {
      const res = await w
        .as('admin')
        .post('/api/ledger/adjustments')
        .send({ username: 'sam', course: 'cs101:2026f', gpuMinutes: 30, reason: 'rig-03 crashed during the lab' });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        kind: 'adjustment',
        username: 'sam',
        course: 'CS101:2026F',
        gpuMinutes: 30,
        cpuMinutes: 0,
        actor: 'user:root',
        reason: 'rig-03 crashed during the lab',
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      const [row] = await w.db.ds.query(`SELECT * FROM ledger_entries WHERE seq = $1`, [res.body.seq]);
      expect(row).toMatchObject({
        kind: 'adjustment',
        gpu_minutes: '30.0000',
        actor: 'user:root',
        user_id: w.users.student.id,
      });
      expect(await auditActions(w, 'ledger.')).toEqual([
        expect.objectContaining({
          action: 'ledger.adjust',
          actor: 'user:root',
          detail: expect.objectContaining({ username: 'sam', gpuMinutes: 30 }),
        }),
      ]);
      expect(await ledger().verify()).toMatchObject({ ok: true });
    });

    it('records a retried adjustment once when it carries the same Idempotency-Key', async () => {
      const send = () =>
        w
          .as('admin')
          .post('/api/ledger/adjustments')
          .set('Idempotency-Key', 'ticket-4711')
          .send({ username: 'sam', course: w.course.id, cpuMinutes: -15.25, reason: 'ran a miner in the lab' });
      const [a, b] = [await send(), await send()];
      expect([a.status, b.status]).toEqual([201, 201]);
      expect(b.body.seq).toBe(a.body.seq);
      expect(a.body).toMatchObject({ cpuMinutes: -15.25, gpuMinutes: 0 });
    });

    it.each([
      [{ course: 'CS101:2026F', gpuMinutes: 5, reason: 'ok reason' }, /username/],
      [{ username: 'sam', course: 'CS101:2026F', gpuMinutes: 5 }, /reason must be 3 to 500 characters/],
      [{ username: 'sam', course: 'CS101:2026F', gpuMinutes: 5, reason: 'no' }, /reason must be 3 to 500 characters/],
      [{ username: 'sam', course: 'CS101:2026F', gpuMinutes: 0, reason: 'zero' }, /gpuMinutes must not be 0/],
      [{ username: 'sam', course: 'CS101:2026F', reason: 'nothing' }, /give gpuMinutes or cpuMinutes/],
      [{ username: 'sam', course: 'CS101:2026F', gpuMinutes: 1.23456, reason: 'precise' }, /at most 4 decimals/],
      [{ username: 'sam', course: 'CS101:2026F', gpuMinutes: '5', reason: 'text' }, /gpuMinutes must be a number/],
      [{ username: 'nobody', course: 'CS101:2026F', gpuMinutes: 5, reason: 'who?' }, /no user named 'nobody'/],
      [{ username: 'sam', course: 'CS999:2026F', gpuMinutes: 5, reason: 'which?' }, /no course 'CS999:2026F'/],
      [{ username: 'sam', course: 'CS101', gpuMinutes: 5, reason: 'which?' }, /neither a course id nor CODE:TERM/],
      [{ username: 'olga', course: 'CS101:2026F', gpuMinutes: 5, reason: 'not hers' }, /olga is not a member/],
      [
        { username: 'sam', course: 'CS101:2026F', gpuMinutes: 5, reason: 'extra', seq: 1 },
        /property seq should not exist/,
      ],
    ])('answers 400 naming what is wrong, and records nothing: %j', async (body, message) => {
      const [{ n }] = await w.db.ds.query(`SELECT count(*)::int AS n FROM ledger_entries`);
      const res = await w.as('admin').post('/api/ledger/adjustments').send(body);
      expect({ status: res.status, message: res.body.message }).toEqual({
        status: 400,
        message: expect.stringMatching(message),
      });
      expect(res.body.message).not.toMatch(/at .*\.ts:|SELECT|QueryFailedError/);
      expect((await w.db.ds.query(`SELECT count(*)::int AS n FROM ledger_entries`))[0].n).toBe(n);
    });

    it('lists entries newest first with names resolved, filtered and paged', async () => {
      const first = await w.as('admin').get('/api/ledger?user=sam&course=CS101:2026F&limit=2');
      expect(first.status).toBe(200);
      expect(first.body.entries).toHaveLength(2);
      const [a, b] = first.body.entries;
      expect(Number(a.seq)).toBeGreaterThan(Number(b.seq));
      expect(a).toMatchObject({ username: 'sam', course: 'CS101:2026F', kind: 'adjustment', actor: 'user:root' });
      expect(first.body.nextBefore).toBe(b.seq);
      const next = await w.as('admin').get(`/api/ledger?user=sam&limit=2&before=${first.body.nextBefore}`);
      expect(Number(next.body.entries[0].seq)).toBeLessThan(Number(b.seq));
      const none = await w.as('admin').get('/api/ledger?user=tara');
      expect(none.body).toEqual({ entries: [], nextBefore: null });
    });

    it.each([
      ['limit=0', /limit must not be less than 1/],
      ['limit=abc', /limit must be a whole number/],
      ['before=-3', /before must be a seq/],
      ['user=nobody', /no user named 'nobody'/],
      ['course=nope', /neither a course id nor CODE:TERM/],
      ['colour=red', /property colour should not exist/],
    ])('answers 400 to a bad query: %s', async (query, message) => {
      const res = await w.as('admin').get(`/api/ledger?${query}`);
      expect({ status: res.status, message: res.body.message }).toEqual({
        status: 400,
        message: expect.stringMatching(message),
      });
    });

    it('exports every entry with its hashes, and the export is what the database holds', async () => {
      const json = await w.as('admin').get('/api/ledger/export?format=json');
      expect(json.status).toBe(200);
      expect(json.headers['content-disposition']).toMatch(/attachment; filename="riglab-ledger-\d{4}-\d\d-\d\d\.json"/);
      const doc = JSON.parse(json.text);
      const db = await w.db.ds.query(
        `SELECT seq::text, hash, prev_hash, gpu_minutes::text FROM ledger_entries e ORDER BY e.seq`,
      );
      expect(doc).toMatchObject({ format: 'riglab-ledger-export', count: db.length, headSeq: db[db.length - 1].seq });
      expect(doc.entries.map((e: Record<string, string>) => [e.seq, e.hash, e.prev_hash, e.gpu_minutes])).toEqual(
        db.map((r: Record<string, string>) => [r.seq, r.hash, r.prev_hash, r.gpu_minutes]),
      );
      const csv = await w.as('admin').get('/api/ledger/export');
      expect(csv.headers['content-type']).toMatch(/^text\/csv/);
      const lines = csv.text.trimEnd().split('\r\n');
      expect(lines[0]).toBe(
        'seq,at,kind,user_id,username,course_id,course,session_id,gpu_minutes,cpu_minutes,actor,reason,detail,idem_key,prev_hash,hash',
      );
      expect(lines).toHaveLength(db.length + 1);
      expect((await w.as('admin').get('/api/ledger/export?format=xml')).body.message).toMatch(
        /format must be csv or json/,
      );
    });

    it.each(['student', 'ta', 'instructor', 'staff'] as const)(
      'refuses %s (403): the ledger is campus IT’s',
      async (who) => {
        for (const path of ['/api/ledger', '/api/ledger/verify', '/api/ledger/export'])
          expect((await w.as(who).get(path)).status).toBe(403);
        const res = await w
          .as(who)
          .post('/api/ledger/adjustments')
          .send({ username: 'sam', course: 'CS101:2026F', gpuMinutes: 999, reason: 'for me' });
        expect(res.status).toBe(403);
        expect(
          (await w.db.ds.query(`SELECT count(*)::int AS n FROM ledger_entries WHERE reason = 'for me'`))[0].n,
        ).toBe(0);
      },
    );
  });
});
