/** Token scopes. `admin` implies every other; a browser session acts with the user's own rights. */
export const TOKEN_SCOPES = ['read', 'labs', 'courses:admin', 'rigs:admin', 'admin'] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

export function hasScope(granted: readonly string[], wanted: readonly string[]): boolean {
  if (wanted.length === 0) return true;
  if (granted.includes('*') || granted.includes('admin')) return true;
  return wanted.some((w) => granted.includes(w));
}

/** The widest scopes a user's campus role may put on a token: a token never exceeds its owner. */
export function scopesFor(role: 'admin' | 'staff' | 'student'): readonly string[] {
  if (role === 'admin') return TOKEN_SCOPES;
  if (role === 'staff') return ['read', 'labs', 'courses:admin'];
  return ['read', 'labs'];
}
