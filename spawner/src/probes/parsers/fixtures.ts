import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A fixture under test/fixtures/telemetry (see its PROVENANCE.md), for the parser specs. */
export function fixture(name: string): string {
  return readFileSync(join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'telemetry', name), 'utf8');
}
export const fixtureLines = (name: string) =>
  fixture(name)
    .split('\n')
    .filter((l) => l.trim() !== '');
