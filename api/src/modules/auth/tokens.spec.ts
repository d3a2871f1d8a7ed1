import { bearerToken } from './principal.resolver';
import { hasScope } from './scopes';
import { hashToken, parseExpiry } from './tokens.service';

describe(parseExpiry.name, () => {
  const now = new Date('2026-11-26T12:00:00Z');
  it.each([
    ['90m', '2026-11-26T13:30:00.000Z'],
    ['12h', '2026-11-27T00:00:00.000Z'],
    ['30d', '2026-12-26T12:00:00.000Z'],
    ['2w', '2026-12-10T12:00:00.000Z'],
    ['2027-01-01', '2027-01-01T00:00:00.000Z'],
  ])('reads %s', (text, iso) => expect(parseExpiry(text, now)?.toISOString()).toBe(iso));
  it('reads never as no expiry', () => expect(parseExpiry('never', now)).toBeNull());
  it('refuses nonsense and the past with a plain reason', () => {
    expect(() => parseExpiry('soon', now)).toThrow(/expiry 'soon' is not understood/);
    expect(() => parseExpiry('2020-01-01', now)).toThrow(/is in the past/);
  });
});

describe('token helpers', () => {
  it('takes Bearer and JupyterHub-style token headers', () => {
    expect(bearerToken('Bearer rgl_abc')).toBe('rgl_abc');
    expect(bearerToken('token rgl_abc')).toBe('rgl_abc');
    expect(bearerToken('Basic dXNlcg==')).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });
  it('hashes with SHA-256 hex', () => expect(hashToken('a')).toHaveLength(64));
  it('lets admin and session scopes do anything, others only what they carry', () => {
    expect(hasScope(['admin'], ['rigs:admin'])).toBe(true);
    expect(hasScope(['*'], ['rigs:admin'])).toBe(true);
    expect(hasScope(['read'], ['rigs:admin'])).toBe(false);
    expect(hasScope(['read'], ['read', 'rigs:admin'])).toBe(true);
    expect(hasScope([], [])).toBe(true);
  });
});
