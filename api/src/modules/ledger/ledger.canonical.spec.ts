import {
  canonicalAmount,
  canonicalContent,
  canonicalJson,
  entryHash,
  GENESIS_HASH,
  LedgerContent,
} from './ledger.canonical';

const content = (over: Partial<LedgerContent> = {}): LedgerContent => ({
  at: new Date('2026-12-01T10:00:00.000Z'),
  kind: 'debit',
  userId: '6f1c2a4e-0000-4000-8000-000000000001',
  courseId: '6f1c2a4e-0000-4000-8000-000000000002',
  sessionId: null,
  gpuMinutes: -12.5,
  cpuMinutes: 0,
  actor: 'system',
  reason: 'metered',
  detail: { rig: 'rig-01', gpuModel: 'GTX 1070', rate: 1.5, slotShare: 1 },
  idemKey: null,
  ...over,
});

describe('ledger canonical form', () => {
  it('writes amounts as fixed 4-decimal strings, the same from a number or from what Postgres returns', () => {
    expect(canonicalAmount(-12.5)).toBe('-12.5000');
    expect(canonicalAmount('-12.5000')).toBe('-12.5000');
    expect(canonicalAmount('-12.5')).toBe('-12.5000');
    expect(canonicalAmount(0)).toBe('0.0000');
    expect(canonicalAmount(-0)).toBe('0.0000');
    expect(canonicalAmount('-0.0000')).toBe('0.0000');
    expect(canonicalAmount('007.1')).toBe('7.1000');
    expect(canonicalAmount(1 / 3)).toBe('0.3333');
    expect(canonicalAmount(0.1 + 0.2)).toBe('0.3000');
    expect(canonicalAmount(9999999999.9999)).toBe('9999999999.9999');
  });

  it('refuses amounts it could not store exactly', () => {
    expect(() => canonicalAmount(Number.NaN)).toThrow(/not a finite number/);
    expect(() => canonicalAmount(Infinity)).toThrow(/not a finite number/);
    expect(() => canonicalAmount(1e10)).toThrow(/too large/);
    expect(() => canonicalAmount('1.23456')).toThrow(/more than 4 decimals/);
    expect(() => canonicalAmount('12abc')).toThrow(/not a decimal number/);
  });

  it('sorts keys at every depth, so key order never changes the hash', () => {
    const a = canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } });
    const b = canonicalJson({ a: { c: null, d: [1, { y: 2, z: 1 }] }, b: 1 });
    expect(a).toBe(b);
    expect(a).toBe('{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}');
  });

  it('treats a Date and its ISO string alike, and drops undefined members as JSON storage does', () => {
    const at = new Date('2026-12-01T10:00:00.123Z');
    expect(canonicalJson({ when: at, gone: undefined })).toBe(canonicalJson({ when: '2026-12-01T10:00:00.123Z' }));
    expect(canonicalContent(content({ at }))).toBe(canonicalContent(content({ at: '2026-12-01T10:00:00.123Z' })));
    expect(canonicalContent(content({ at: '2026-12-01T11:00:00.123+01:00' }))).toBe(canonicalContent(content({ at })));
  });

  it('refuses values JSON cannot hold instead of changing them', () => {
    expect(() => canonicalJson({ rate: Number.NaN })).toThrow(/detail.rate is NaN/);
    expect(() => canonicalJson({ big: 10n })).toThrow(/detail.big is a bigint/);
  });

  it('gives the same content for a draft and for the row Postgres returns for it', () => {
    const draft = content();
    const row = content({
      gpuMinutes: '-12.5000',
      cpuMinutes: '0.0000',
      detail: { slotShare: 1, rate: 1.5, gpuModel: 'GTX 1070', rig: 'rig-01' },
    });
    expect(canonicalContent(row)).toBe(canonicalContent(draft));
    expect(entryHash(GENESIS_HASH, row)).toBe(entryHash(GENESIS_HASH, draft));
  });

  it('changes the hash when anything that matters changes: an amount, the reason, the previous hash', () => {
    const h = entryHash(GENESIS_HASH, content());
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(entryHash(GENESIS_HASH, content({ gpuMinutes: -12.4 }))).not.toBe(h);
    expect(entryHash(GENESIS_HASH, content({ cpuMinutes: 0.0001 }))).not.toBe(h);
    expect(entryHash(GENESIS_HASH, content({ reason: 'metered.' }))).not.toBe(h);
    expect(entryHash(GENESIS_HASH, content({ detail: { rig: 'rig-02' } }))).not.toBe(h);
    expect(entryHash('1'.repeat(64), content())).not.toBe(h);
  });
});
