import type { SensorReading } from '../sample';
import { num, round } from './errors';
import { sysfsValues } from './sysfs';

/**
 * /sys/class/hwmon/hwmonN/{name,temp*_input,temp*_label,fan*_input,power*_average} as `grep .`
 * prints them → readings in °C, RPM and W (the kernel's sysfs-interface units are millidegrees,
 * RPM and microwatts). A channel without a label is named by its file ("temp2").
 */
export function parseHwmon(lines: string[]): SensorReading[] {
  const chips = new Map<string, Map<string, string>>();
  for (const [path, value] of sysfsValues(lines)) {
    const m = /\/(hwmon\d+)\/([a-z]+\d*_[a-z]+|name)$/.exec(path);
    if (!m) continue;
    if (!chips.has(m[1])) chips.set(m[1], new Map());
    chips.get(m[1])!.set(m[2], value);
  }
  const out: SensorReading[] = [];
  const byNumber = (a: string, b: string) => Number(/\d+/.exec(a)?.[0]) - Number(/\d+/.exec(b)?.[0]);
  for (const [chip, files] of [...chips.entries()].sort(([a], [b]) => byNumber(a, b))) {
    const source = files.get('name') ?? chip;
    const channels = [...files.keys()].filter((k) => k.endsWith('_input') || k.endsWith('_average')).sort(byNumber);
    for (const key of channels) {
      const channel = key.replace(/_(input|average)$/, '');
      const raw = num(files.get(key));
      const label = files.get(`${channel}_label`) ?? channel;
      if (channel.startsWith('temp'))
        out.push({ source, label, kind: 'temperature', value: raw == null ? null : round(raw / 1000, 1), unit: 'C' });
      else if (channel.startsWith('fan')) out.push({ source, label, kind: 'fan', value: raw, unit: 'RPM' });
      else if (channel.startsWith('power'))
        out.push({ source, label, kind: 'power', value: raw == null ? null : round(raw / 1e6, 2), unit: 'W' });
    }
  }
  return out;
}
