import { labToken, tokenOf } from './lab-token';

describe('labToken', () => {
  const key = 'k'.repeat(64);
  it('is the same for the same key and lab, and differs between labs and between keys', () => {
    const a = labToken(key, '3f0e0a52-0000-4000-8000-000000000001');
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(labToken(key, '3f0e0a52-0000-4000-8000-000000000001')).toBe(a);
    expect(labToken(key, '3f0e0a52-0000-4000-8000-000000000002')).not.toBe(a);
    expect(labToken('j'.repeat(64), '3f0e0a52-0000-4000-8000-000000000001')).not.toBe(a);
  });
  it('keeps the stored token of a lab started before tokens were derived', () => {
    expect(tokenOf(key, { id: 'x', jupyterToken: 'legacy' })).toBe('legacy');
    expect(tokenOf(key, { id: 'x', jupyterToken: null })).toBe(labToken(key, 'x'));
  });
});
