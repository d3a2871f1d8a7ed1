import type { SensorReading } from '../sample';
import { num } from './errors';

const UNITS: Array<[RegExp, SensorReading['kind'], string]> = [
  [/^degrees C$/i, 'temperature', 'C'],
  [/^RPM$/i, 'fan', 'RPM'],
  [/^Watts$/i, 'power', 'W'],
  [/^Volts$/i, 'voltage', 'V'],
  [/^percent$/i, 'other', '%'],
  [/^Amps$/i, 'other', 'A'],
];

/** A reading's kind from the sensor's name, for sensors that gave no reading to read a unit from. */
function kindByName(name: string): [SensorReading['kind'], string] {
  if (/temp/i.test(name)) return ['temperature', 'C'];
  if (/fan/i.test(name)) return ['fan', 'RPM'];
  if (/power|pwr/i.test(name)) return ['power', 'W'];
  return ['other', ''];
}

/**
 * `ipmitool sdr` / `sdr list` ("name | value unit | status") and `sdr elist` ("name | id | status |
 * entity | value unit") → readings. "no reading", "Disabled" and "na" give a null value; discrete
 * sensors ("0x00", "State Deasserted") are states, not readings, and are left out.
 */
export function parseIpmitoolSdr(lines: string[]): SensorReading[] {
  const out: SensorReading[] = [];
  for (const line of lines) {
    const cols = line.split('|').map((c) => c.trim());
    if (cols.length !== 3 && cols.length !== 5) continue;
    const name = cols[0];
    const [reading, status] = cols.length === 3 ? [cols[1], cols[2]] : [cols[4], cols[2]];
    if (!name) continue;
    if (/^0x[0-9a-f]+$/i.test(reading) || /^(State |Presence |Device |Limit |Predictive |Transition )/i.test(reading))
      continue;
    const m = /^([-+]?\d+(?:\.\d+)?)\s+(.+)$/.exec(reading);
    const unit = m ? UNITS.find(([re]) => re.test(m[2].trim())) : undefined;
    if (m && unit) {
      out.push({
        source: 'ipmi',
        label: name,
        kind: unit[1],
        value: num(m[1]),
        unit: unit[2],
        status: status.toLowerCase(),
      });
    } else if (reading === '' || /^(no reading|disabled|na|n\/a)$/i.test(reading)) {
      const [kind, u] = kindByName(name);
      out.push({ source: 'ipmi', label: name, kind, value: null, unit: u, status: status.toLowerCase() });
    }
    // Anything else (an OEM unit riglab does not know) is left out rather than guessed.
  }
  return out;
}
