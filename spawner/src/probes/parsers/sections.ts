import { TelemetryParseError } from './errors';

/** The probe script's output split into its sources (see spawner/src/probes/image/probe.sh). */
export interface ProbeSections {
  version: number;
  sections: Map<string, string[]>;
  missing: Array<{ source: string; why: string }>;
  /** False when the output stops before "@@riglab end" (the probe was cut off by its time budget). */
  complete: boolean;
}

const MARK = '@@riglab ';

export function splitSections(output: string): ProbeSections {
  const lines = output.replace(/\r\n?/g, '\n').split('\n');
  const start = lines.findIndex((l) => l.startsWith(`${MARK}probe `));
  if (start < 0) {
    const first = lines.find((l) => l.trim() !== '') ?? '(empty output)';
    throw new TelemetryParseError(
      'probe',
      `the output is not from the riglab probe (it starts with '${first.slice(0, 120)}')`,
    );
  }
  const version = Number(lines[start].slice(`${MARK}probe `.length).trim());
  const sections = new Map<string, string[]>();
  const missing: Array<{ source: string; why: string }> = [];
  let current: string[] | null = null;
  let complete = false;
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith(MARK)) {
      if (current && line.trim() !== '') current.push(line);
      continue;
    }
    const [word, ...rest] = line.slice(MARK.length).split(' ');
    if (word === 'section') {
      current = [];
      sections.set(rest.join(' ').trim(), current);
    } else if (word === 'missing') {
      missing.push({ source: rest[0] ?? 'unknown', why: rest.slice(1).join(' ').trim() || 'not available' });
      current = null;
    } else if (word === 'end') {
      complete = true;
      current = null;
    } else if (current) {
      current.push(line); // e.g. "@@riglab exit 9" after nvidia-smi: the section's parser reads it
    }
  }
  return { version, sections, missing, complete };
}
