import { fixtureLines } from './fixtures';
import { parseHwmon } from './hwmon';

describe('parseHwmon', () => {
  it('reads a mining-class board with unplugged fans as 0 RPM, by chip name', () => {
    const readings = parseHwmon(fixtureLines('hwmon/nct6779-asrock-ab350-fans-assembled.txt'));
    expect(readings).toHaveLength(5);
    expect(readings[1]).toEqual({ source: 'nct6779', label: 'fan2', kind: 'fan', value: 817, unit: 'RPM' });
    expect(readings.filter((r) => r.value === 0)).toHaveLength(4);
  });

  it('uses the kernel labels and converts millidegrees', () => {
    const readings = parseHwmon(fixtureLines('hwmon/coretemp-dual-socket-assembled.txt'));
    expect(readings).toHaveLength(18);
    expect(readings[0]).toEqual({
      source: 'coretemp',
      label: 'Physical id 0',
      kind: 'temperature',
      value: 39,
      unit: 'C',
    });
    expect(readings[9]).toMatchObject({ label: 'Physical id 1', value: 42 });
    expect(readings[17]).toMatchObject({ label: 'Core 7', value: 33 });
  });

  it('falls back to the channel name and reads power in watts', () => {
    const r = parseHwmon([
      '/sys/class/hwmon/hwmon3/temp2_input:45500',
      '/sys/class/hwmon/hwmon3/power1_average:9103000',
    ]);
    expect(r).toEqual([
      { source: 'hwmon3', label: 'power1', kind: 'power', value: 9.1, unit: 'W' },
      { source: 'hwmon3', label: 'temp2', kind: 'temperature', value: 45.5, unit: 'C' },
    ]);
  });
});
